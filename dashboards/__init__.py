"""Report layer: MLflow runs (read through sweeps.tracking.runs) to statistics, the verdict, figures and the report.

Rooms, each importing only those before it: `stats` (which runs an arm compares, the one Welch test), `study`
(Optuna studies rebuilt from runs), `verdict` (the tables and the headline sentence), `figures` (pure figures),
`report` (files and HTML). All may import `resnet_core` and `sweeps.tracking`, `sweeps.spec`, `sweeps.env`.
"""
