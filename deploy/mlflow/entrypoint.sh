#!/bin/sh
# Start MLflow with basic auth: build the PostgreSQL URIs from the environment, write the auth
# config with them, then run the given command (mlflow server ...). The passwords live only in
# this container's environment and in a private file under /tmp, never in a committed file.
set -eu

: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
: "${MLFLOW_AUTH_ADMIN_USERNAME:?set MLFLOW_TRACKING_USERNAME in .env}"
: "${MLFLOW_AUTH_ADMIN_PASSWORD:?set MLFLOW_TRACKING_PASSWORD in .env}"
: "${MLFLOW_FLASK_SERVER_SECRET_KEY:?set MLFLOW_FLASK_SERVER_SECRET_KEY in .env}"

# postgresql+psycopg2: SQLAlchemy 2.1 made psycopg (3) the default driver of postgresql://, and the image
# has psycopg2 (docker/mlflow.Dockerfile), so a bare postgresql:// fails with "No module named psycopg".
db="postgresql+psycopg2://${POSTGRES_USER:-sweeps}:${POSTGRES_PASSWORD}@${POSTGRES_HOST:-postgres}:5432"
# mlflow server reads --backend-store-uri from this variable, which keeps it out of `ps`.
export MLFLOW_BACKEND_STORE_URI="$db/mlflow"
export MLFLOW_AUTH_CONFIG_PATH=/tmp/mlflow/basic_auth.ini

umask 077
mkdir -p /tmp/mlflow
AUTH_DATABASE_URI="$db/mlflow_auth" python - <<'PY'
import configparser, os

config = configparser.ConfigParser()
config.read("/opt/mlflow/basic_auth.ini")
# configparser treats % as interpolation; a URL-encoded password may contain it.
config["mlflow"]["database_uri"] = os.environ["AUTH_DATABASE_URI"].replace("%", "%%")
with open(os.environ["MLFLOW_AUTH_CONFIG_PATH"], "w") as f:
    config.write(f)
PY

exec "$@"
