# Stand-in for python:3.11.13-slim-bookworm: Debian's own Python 3.11 (3.11.2) as a venv at
# /usr/local, so python, python3 and pip sit in /usr/local/bin and pip installs for root, as in
# the official image. Not kept: the patch release (3.11.2, not 3.11.13).
FROM resnet-sweeps-standin/debian:bookworm
RUN apt-get update \
    && apt-get install -y python3.11 python3.11-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /usr/local
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin PYTHON_VERSION=3.11.2
CMD ["python3"]
