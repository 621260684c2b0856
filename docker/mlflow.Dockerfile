# MLflow tracking server: PostgreSQL backend store, MinIO (S3) artifacts, basic auth.
# Built with the repository root as context (docker-compose.yml), for deploy/mlflow/.
FROM python:3.11.13-slim-bookworm

# mlflow[auth] adds Flask-WTF for the basic-auth app; psycopg2 reaches PostgreSQL, boto3 MinIO.
RUN pip install --no-cache-dir "mlflow[auth]==3.17.2" "psycopg2-binary==2.9.13" "boto3==1.44.8"

COPY deploy/mlflow/basic_auth.ini deploy/mlflow/entrypoint.sh /opt/mlflow/
RUN chmod 0755 /opt/mlflow/entrypoint.sh \
    && useradd --system --uid 10001 --create-home mlflow
USER mlflow
WORKDIR /home/mlflow

EXPOSE 5000
ENTRYPOINT ["/opt/mlflow/entrypoint.sh"]
CMD ["mlflow", "server", "--app-name", "basic-auth", "--host", "0.0.0.0", "--port", "5000"]
