# Stand-in for prom/prometheus:v3.5.0: Debian's Prometheus (2.42) with the official image's
# contract: /bin/prometheus as entrypoint, user nobody, /prometheus owned by nobody (so a fresh
# named volume is writable), port 9090, busybox's wget for the healthcheck.
# (/bin is /usr/bin on bookworm, so Debian's /usr/bin/prometheus is /bin/prometheus.)
FROM resnet-sweeps-standin/debian:bookworm
RUN apt-get update \
    && apt-get install -y prometheus busybox \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sf /bin/busybox /usr/local/bin/wget \
    && mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
