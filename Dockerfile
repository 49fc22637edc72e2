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
# The app runs as an unprivileged user, who owns only what the app writes: the
# volume mounted at /data (thumbnails) and Flask's instance folder, which
# create_app makes sure exists.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin cil \
    && install -d -o cil -g cil /data "$(python -c 'import flask; print(flask.Flask( \
        "survey_app", instance_relative_config=True).instance_path)')"
USER cil
EXPOSE 8000
CMD ["sh", "scripts/docker-entrypoint.sh"]
