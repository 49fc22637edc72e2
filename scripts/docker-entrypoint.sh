#!/bin/sh
# Container start: apply migrations, seed and fill the offline counts (all
# idempotent), then serve with gunicorn.
set -eu
flask --app survey_app setup --hierarchy /app/hierarchy.json
exec gunicorn --config gunicorn.conf.py --workers "${GUNICORN_WORKERS:-4}" \
    --bind 0.0.0.0:8000 --access-logfile - "survey_app:create_app()"
