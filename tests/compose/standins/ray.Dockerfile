# Stand-in for rayproject/ray:2.60.0-py311-gpu, whose registry this machine cannot reach.
# Kept: user ray (uid 1000, group users) with passwordless sudo, HOME /home/ray, a Python 3.11
# environment at /home/ray/anaconda3 first on PATH and writable by ray (pip installs need no root),
# Ray 2.60.0 with its dashboard, no entrypoint. Not kept: CUDA and conda (pip's torch brings its
# own CUDA libraries, unused without a GPU). docs/cluster.md lists the differences.
FROM resnet-sweeps-standin/debian:bookworm
RUN apt-get update \
    && apt-get install -y python3.11 python3.11-venv ca-certificates sudo procps \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --gid users --create-home --shell /bin/bash ray \
    && echo 'ray ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/ray
USER ray
ENV HOME=/home/ray PATH=/home/ray/anaconda3/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /home/ray
RUN python3.11 -m venv /home/ray/anaconda3 \
    && pip install --no-cache-dir "ray[default]==2.60.0"
CMD ["bash"]
