"""The trial room: what runs inside one trial (the trainable, system metrics, provenance) and the format of what it
reports to Tune (reports: packing, outcomes, the trial's params)."""
