"""The study room: Optuna studies rebuilt from a sweep's MLflow runs, for fANOVA importance and optuna-dashboard."""
