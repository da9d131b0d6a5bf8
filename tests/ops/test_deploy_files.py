"""The Dockerfile and docker-compose.yml, checked without Docker: they parse and every name in them is real."""

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from digests.system_checks import PRODUCTION_ENV
from newsletter.celery import QUEUES
from tests.helpers.paths import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = {name: s for name, s in SERVICES.items() if "build" in s}
ENV_EXAMPLE_TEXT = (ROOT / ".env.example").read_text()


def env_example(*, include_commented: bool) -> dict[str, str]:
    pattern = r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$" if include_commented else r"^([A-Z][A-Z0-9_]*)=(.*)$"
    return {m.group(1): m.group(2) for m in re.finditer(pattern, ENV_EXAMPLE_TEXT, re.MULTILINE)}


def command_of(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return argv[i + 1]
    return None


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against ``env``."""

    def replace(match):
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"compose needs {name}: {arg}")
        return arg or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", replace, value)


def test_the_compose_file_has_the_whole_stack():
    assert {"web", "worker-transactional", "worker-bulk", "beat", "migrate", "postgres", "redis", "mailpit"} <= set(SERVICES)
    assert set(APP_SERVICES) == {"web", "worker-transactional", "worker-bulk", "beat", "migrate"}


def test_every_depends_on_names_a_service_that_exists_with_a_valid_condition():
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        for target, spec in depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends):
            assert target in SERVICES, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            assert condition in ("service_started", "service_healthy", "service_completed_successfully")
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target} to be healthy but it has no healthcheck"


def test_web_workers_and_beat_start_only_after_migrate_succeeded():
    assert command_of(SERVICES["migrate"])[:3] == ["python", "manage.py", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "worker-transactional", "worker-bulk", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_every_long_running_service_has_a_health_check():
    for name, service in SERVICES.items():
        if name != "migrate":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_named_volumes_are_declared():
    declared = set(COMPOSE.get("volumes", {}))
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert {"postgres-data", "redis-data"} <= declared


def test_the_app_services_read_the_env_file_and_share_postgres_and_redis():
    for name, service in APP_SERVICES.items():
        assert service["env_file"] in (".env", [".env"]), name
        env = service["environment"]
        assert "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/"), name
        assert env["CACHE_URL"].startswith("redis://redis:6379/"), name
        assert env["CELERY_BROKER_URL"] != env["CACHE_URL"], "broker and cache need their own Redis databases"


def test_every_variable_production_requires_is_provided_to_every_app_service():
    provided_by_env_file = {k for k, v in env_example(include_commented=False).items() if v.strip()}
    for name, service in APP_SERVICES.items():
        missing = set(PRODUCTION_ENV) - provided_by_env_file - set(service.get("environment", {}))
        assert not missing, f"{name} gets no value for {sorted(missing)} (add them to .env.example or environment:)"


def test_every_compose_variable_has_a_default_or_a_line_in_env_example():
    used = set(re.findall(r"\$\{([A-Z0-9_]+)(?::-[^}]*)?\}", (ROOT / "docker-compose.yml").read_text()))
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = env_example(include_commented=False)
    assert required <= set(example), f"{sorted(required - set(example))} must be set in .env.example"
    undocumented = {v for v in used if v not in env_example(include_commented=True)}
    assert not undocumented, f"document {sorted(undocumented)} in .env.example"


def test_the_example_configuration_boots_django(tmp_path):
    """The settings accept exactly what compose would hand the containers."""
    example = env_example(include_commented=False)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update({k: v for k, v in example.items() if v})
    env.update({k: interpolate(str(v), example) for k, v in SERVICES["web"]["environment"].items()})
    env["VAR_DIR"] = str(tmp_path)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    # Before going live the operator must replace the example secret: the deploy check says so.
    assert "digests.W008" in result.stderr


def test_mail_goes_to_mailpit_by_default():
    assert env_example(include_commented=False)["EMAIL_URL"] == "smtp://mailpit:1025"
    assert "127.0.0.1:8025:8025" in SERVICES["mailpit"]["ports"]


def test_the_web_command_serves_the_real_wsgi_application():
    argv = command_of(SERVICES["web"])
    assert argv[0] == "gunicorn"
    module_name, attribute = next(arg for arg in argv[1:] if not arg.startswith("-")).split(":")
    assert (module_name, attribute) == ("newsletter.wsgi", "application")
    assert callable(getattr(importlib.import_module(module_name), attribute))
    assert option(argv, "--bind").endswith(":8000")


def celery_services() -> dict[str, list[str]]:
    return {name: command_of(s) for name, s in APP_SERVICES.items() if command_of(s)[0] == "celery"}


def test_celery_commands_name_the_real_app():
    from celery import Celery

    for name, argv in celery_services().items():
        app_module = option(argv, "--app") or option(argv, "-A")
        assert app_module == "newsletter", name
        assert isinstance(importlib.import_module(app_module).celery_app, Celery)


def test_workers_consume_exactly_the_queues_the_celery_app_defines():
    consumed = {}
    for name, argv in celery_services().items():
        if "worker" in argv:
            queues = option(argv, "--queues") or option(argv, "-Q")
            consumed[name] = set(queues.split(","))
            assert consumed[name] <= set(QUEUES), f"{name} consumes unknown queues {consumed[name] - set(QUEUES)}"
    assert set().union(*consumed.values()) == set(QUEUES), "some queue has no worker"
    # Confirmations have a worker of their own, so a big send never delays them.
    assert consumed["worker-transactional"] == {"transactional"}


def test_exactly_one_beat_runs():
    beats = [name for name, argv in celery_services().items() if "beat" in argv]
    assert beats == ["beat"]
    assert SERVICES["beat"]["deploy"]["replicas"] == 1


def test_health_checks_call_real_entry_points():
    from django.core.management import get_commands

    from digests.management.commands.healthcheck import COMPONENTS

    web = SERVICES["web"]["healthcheck"]["test"]
    assert web[:2] == ["CMD", "python"] and (ROOT / web[2]).is_file()

    beat = SERVICES["beat"]["healthcheck"]["test"]
    assert beat[1:4] == ["python", "manage.py", "healthcheck"] and "healthcheck" in get_commands()
    assert set(option(beat, "--only").split(",")) <= set(COMPONENTS)

    for name in ("worker-transactional", "worker-bulk"):
        probe = SERVICES[name]["healthcheck"]["test"][1]
        node = option(command_of(SERVICES[name]), "--hostname").split("@")[0]
        assert f"--destination={node}@$$HOSTNAME" in probe, name
        assert "--app=newsletter inspect ping" in probe


def test_manage_py_commands_in_the_compose_file_exist():
    from django.core.management import get_commands

    for name, service in APP_SERVICES.items():
        argv = command_of(service)
        if argv[:2] == ["python", "manage.py"]:
            assert argv[2] in get_commands(), f"{name} runs unknown command {argv[2]}"


def test_env_example_documents_every_variable_of_the_readme_and_the_settings():
    documented = set(env_example(include_commented=True))
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") :]
    table = table[: table.index("\n## ", 5)]
    in_readme = {name for name in re.findall(r"^\| `([A-Z][A-Z0-9_]*)`", table, re.MULTILINE)}
    in_readme |= set(re.findall(r"^\| `[A-Z0-9_]+` / `([A-Z][A-Z0-9_]*)`", table, re.MULTILINE))
    settings_text = (ROOT / "newsletter" / "settings.py").read_text()
    in_settings = set(re.findall(r'env_[a-z_]+\(\s*"([A-Z][A-Z0-9_]*)"', settings_text))
    in_settings |= set(re.findall(r'env_str\("([A-Z][A-Z0-9_]*)"', settings_text))

    assert len(in_readme) >= 20, "the README configuration table was not found"
    missing_readme = {v for v in in_readme if v not in documented and not v.endswith("_")}
    missing_settings = {v for v in in_settings if v not in documented and not v.endswith("_")}
    assert not missing_readme, f"README variables missing from .env.example: {sorted(missing_readme)}"
    assert not missing_settings, f"settings variables missing from .env.example: {sorted(missing_settings)}"
    assert any(line.startswith("# ANYMAIL_") for line in ENV_EXAMPLE_TEXT.splitlines())


def test_the_dockerfile_builds_a_non_root_image_with_static_files_and_catalogues():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert "gettext" in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile
    assert "manage.py compilemessages" in dockerfile and "-name locale" in dockerfile
    assert "pip install" in dockerfile and "COPY pyproject.toml" in dockerfile
    assert '"newsletter.wsgi:application"' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


def compose_client() -> list[str] | None:
    """`docker compose` (v2) when the plugin is there, else Debian's docker-compose, which CI installs."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(compose_client() is None, reason="no docker compose client is installed here")
def test_docker_compose_itself_accepts_the_file(tmp_path):
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")

    result = subprocess.run([*compose_client(), "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr


def test_postgres_gets_room_for_a_large_ledger_and_the_operator_can_size_it():
    """At its defaults (128 MB of buffers, 1 GB of WAL) a million-reader send made PostgreSQL write
    pages out from the backends and checkpoint on WAL volume, doubling its CPU per message."""
    argv = command_of(SERVICES["postgres"])
    settings = dict(arg.split("=", 1) for arg in argv if "=" in arg and argv[argv.index(arg) - 1] == "-c")
    assert argv[0] == "postgres"
    assert interpolate(settings["shared_buffers"], {}) == "512MB"
    assert interpolate(settings["max_wal_size"], {}) == "4GB"
    assert interpolate(settings["shared_buffers"], {"POSTGRES_SHARED_BUFFERS": "2GB"}) == "2GB"
    example = env_example(include_commented=False)
    assert (example["POSTGRES_SHARED_BUFFERS"], example["POSTGRES_MAX_WAL_SIZE"]) == ("512MB", "4GB")
    assert SERVICES["postgres"]["shm_size"] == "256mb"
