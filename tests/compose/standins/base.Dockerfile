# Layer on the imported debootstrap tree (tests/compose/up.sh): Debian's security and update suites,
# and the host's extra CA certificates (host-ca/, copied by up.sh from /usr/local/share/ca-certificates):
# on a machine whose HTTPS goes through an intercepting proxy, pip inside the images trusts what the host
# trusts. PIP_CERT points pip (whose vendored certifi ignores the system store) at that bundle.
FROM resnet-sweeps-standin/debian:bookworm-rootfs
COPY host-ca/ /usr/local/share/ca-certificates/
RUN printf '%s\n' \
        'deb http://deb.debian.org/debian bookworm main' \
        'deb http://deb.debian.org/debian bookworm-updates main' \
        'deb http://deb.debian.org/debian-security bookworm-security main' > /etc/apt/sources.list \
    && printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > /etc/apt/apt.conf.d/90standin \
    && apt-get update && apt-get install -y ca-certificates && rm -rf /var/lib/apt/lists/* \
    && update-ca-certificates
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["bash"]
