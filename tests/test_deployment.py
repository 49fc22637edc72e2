"""docker-compose.yml cannot be run here (no Docker engine), so check that its
structure is sound and that everything it names exists in the project."""

import re
import runpy
import shlex
from pathlib import Path

import yaml

from survey_app import create_app

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_dependencies():
    services = COMPOSE["services"]
    assert set(services) == {"app", "db", "proxy"}
    assert services["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"
    for service in services.values():
        assert service["healthcheck"]["test"][0] == "CMD"
        assert service["restart"] == "unless-stopped"
    assert "/health" in " ".join(services["app"]["healthcheck"]["test"])


def test_volumes_keep_database_and_thumbnails():
    named = set(COMPOSE["volumes"])
    db_mounts = COMPOSE["services"]["db"]["volumes"]
    app_mounts = COMPOSE["services"]["app"]["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in db_mounts
    assert "appdata:/data" in app_mounts
    assert named == {"pgdata", "appdata"}
    assert COMPOSE["services"]["app"]["environment"]["CIL_THUMBNAIL_DIR"].startswith("/data/")


def test_secrets_come_from_the_environment():
    env = COMPOSE["services"]["app"]["environment"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?.+\}", env["SECRET_KEY"])
    assert "${POSTGRES_PASSWORD}" in env["DATABASE_URL"]
    db_env = COMPOSE["services"]["db"]["environment"]
    assert db_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_named_files_exist():
    command = COMPOSE["services"]["app"]["command"]
    assert (ROOT / command[-1]).is_file()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert COMPOSE["services"]["app"]["build"] == "."


def test_entrypoint_commands_exist(tmp_path):
    script = (ROOT / "scripts" / "docker-entrypoint.sh").read_text()
    flask_line = next(line for line in script.splitlines() if line.startswith("flask "))
    words = shlex.split(flask_line)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert words[words.index("--app") + 1] == "survey_app"
    command = words[words.index("--app") + 2]
    result = app.test_cli_runner().invoke(args=[command, "--help"])
    assert result.exit_code == 0 and "--hierarchy" in result.output
    assert '"survey_app:create_app()"' in script
    assert "GUNICORN_WORKERS" in script


def test_forwarded_headers_are_trusted_in_one_place():
    """The app (ProxyFix, CIL_TRUSTED_PROXIES) decides which forwarded headers
    to believe; gunicorn, which would believe X-Forwarded-Proto from any
    address under "*", believes none."""
    script = (ROOT / "scripts" / "docker-entrypoint.sh").read_text()
    assert "forwarded-allow-ips" not in script
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["forwarded_allow_ips"] == ""
    env = COMPOSE["services"]["app"]["environment"]
    # Only nginx is published, on 127.0.0.1, for one TLS proxy on the host: two
    # proxies in front of the app.
    assert "ports" not in COMPOSE["services"]["app"]
    assert COMPOSE["services"]["proxy"]["ports"] == ["127.0.0.1:${PORT:-8000}:8080"]
    assert env["CIL_TRUSTED_PROXIES"] == "${CIL_TRUSTED_PROXIES:-2}"


def test_proxy_runs_the_repository_template():
    """The nginx image fills in the template's ${NAME}s from the service's
    environment: every one it names is set, and it is mounted where the image
    looks for templates (tests/survey_app/test_proxy.py runs the same file)."""
    proxy = COMPOSE["services"]["proxy"]
    source, target, mode = next(v for v in proxy["volumes"] if "deploy/nginx" in v).split(":")
    assert (ROOT / source).is_file()
    assert target == "/etc/nginx/templates/default.conf.template" and mode == "ro"
    named = set(re.findall(r"\$\{(\w+)\}", (ROOT / source).read_text()))
    assert named == set(proxy["environment"])
    assert proxy["environment"]["CIL_PROXY_APP"] == "app:8000"
    assert proxy["ports"][0].endswith(":" + proxy["environment"]["CIL_PROXY_LISTEN"])


def test_image_runs_as_an_unprivileged_user():
    lines = [
        line.split(maxsplit=1)
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line and not line.startswith("#") and not line.startswith(" ")
    ]
    instructions = [words[0] for words in lines]
    user = [words[1].strip() for words in lines if words[0] == "USER"]
    assert user and user[-1] not in ("root", "0")
    # Everything after the switch runs unprivileged, the command included.
    assert instructions.index("USER") > max(
        i for i, word in enumerate(instructions) if word == "RUN"
    )
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "/data" in dockerfile and "instance" in dockerfile  # writable where the app writes
