"""The engine room: start Ray, open the sweep, run and resume its stages with Tune (search, then confirm), show
their progress, and finalize."""
