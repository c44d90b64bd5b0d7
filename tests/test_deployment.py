"""docker-compose.yml cannot be run here (no Docker engine), so its shape is checked instead."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_names_every_service_it_needs(compose):
    assert {"web", "worker", "beat", "sandbox", "postgres", "redis"} <= set(compose["services"])
    # The sweepers live in the beat schedule: exactly one scheduler runs them.
    assert compose["services"]["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert "config/gunicorn.py" in compose["services"]["web"]["command"]


def test_compose_build_targets_exist_in_the_dockerfile(compose):
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), re.M))
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            assert build["target"] in targets, name


def test_sandbox_service_is_locked_down(compose):
    sandbox = compose["services"]["sandbox"]
    assert sandbox["network_mode"] == "none"
    assert sandbox["read_only"] is True
    assert any(entry.startswith("/scratch:") for entry in sandbox["tmpfs"])
    assert sandbox["mem_limit"] and sandbox["pids_limit"] and sandbox["cpus"]
    assert sandbox["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in sandbox["security_opt"]
    # It holds no secrets: no environment from the app at all.
    assert "environment" not in sandbox
    assert sandbox["volumes"] == ["sandbox-socket:/run/sandbox"]


def test_only_the_worker_shares_the_sandbox_socket(compose):
    sharing = {
        name
        for name, service in compose["services"].items()
        if any(str(v).startswith("sandbox-socket:") for v in service.get("volumes", []))
    }
    assert sharing == {"sandbox", "worker"}


def test_every_long_running_service_has_a_health_check(compose):
    for name in ("web", "worker", "sandbox", "postgres", "redis"):
        assert "healthcheck" in compose["services"][name], name


def test_app_services_use_production_settings_and_real_backends(compose):
    for name in ("web", "worker", "migrate"):
        env = compose["services"][name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
    worker_command = " ".join(compose["services"]["worker"]["command"])
    assert "-Q grading,default" in worker_command
