"""The verdict room: residual minus plain (search and confirm, per training budget), contrasts, tuning, headline."""
