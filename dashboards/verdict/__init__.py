"""The verdict room: residual minus plain (search and confirm), contrasts with a reference, tuning budget, headline."""
