# The survey app for docker-compose: gunicorn, with WordNet baked in.
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY clustering clustering
COPY survey_app survey_app
COPY imagenet_files imagenet_files
COPY migrations migrations
COPY scripts scripts
COPY gunicorn.conf.py ./
RUN pip install --no-cache-dir '.[app]' \
    && python -m clustering wordnet \
    && python -m clustering hierarchy --out /app/hierarchy.json
EXPOSE 8000
CMD ["sh", "scripts/docker-entrypoint.sh"]
