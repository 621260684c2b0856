-- Runs once, when the postgres-data volume is first created. POSTGRES_DB already made "mlflow"
-- (the MLflow backend store); these hold MLflow's basic-auth users and the Optuna studies.
CREATE DATABASE mlflow_auth;
CREATE DATABASE optuna;
