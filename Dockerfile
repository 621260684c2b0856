# Image for every Ray node (head and workers): Ray's CUDA image plus this project.
# The Ray version in this tag must equal the ray pin in pyproject.toml (tests/test_compose.py
# checks it): nodes and the job driver must all run the same Ray.
FROM rayproject/ray:2.60.0-py311-gpu

# Made by the image's `ray` user, so it owns them: pip builds in the source folder, and a fresh
# named volume mounted on /tmp/ray (shared with Prometheus and Grafana) takes this owner.
RUN mkdir -p /home/ray/app /tmp/ray
WORKDIR /home/ray/app

# Dependencies first, in their own layer, so a code change does not reinstall torch.
COPY --chown=ray:users pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

COPY --chown=ray:users . .
RUN pip install --no-cache-dir --no-deps .
