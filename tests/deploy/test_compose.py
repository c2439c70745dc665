"""docker compose file (Debian's docker-compose v1 validates it) and the Dockerfile."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import COMPOSE_FILE, DEPLOY, REPO, load_yaml, run, tool

pytestmark = pytest.mark.deploy

DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The configuration as docker-compose resolves it (anchors, paths, defaults)."""
    output = run([tool("docker-compose"), "-f", COMPOSE_FILE, "config"])
    data: dict[str, Any] = yaml.safe_load(output)
    return data


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source (host path or volume name) of a service's mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts[target] = source
    return mounts


def test_docker_compose_config_is_valid() -> None:
    run([tool("docker-compose"), "-f", COMPOSE_FILE, "config", "--quiet"])


def test_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "kafka",
        "tracker-worker-1",
        "tracker-worker-2",
        "tracker-collector",
        "prometheus",
        "alertmanager",
        "grafana",
    }


def test_kafka_runs_kraft_with_the_apache_image(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(env)
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


@pytest.mark.parametrize(
    ("name", "command", "port"),
    [
        ("tracker-worker-1", "worker", 6066),
        ("tracker-worker-2", "worker", 6066),
        ("tracker-collector", "collector", 8088),
    ],
)
def test_tracker_services(compose: dict[str, Any], name: str, command: str, port: int) -> None:
    service = compose["services"][name]
    assert service["command"] == [command]
    assert service["build"]["context"] == str(REPO)
    assert Path(service["build"]["context"], service["build"]["dockerfile"]) == DOCKERFILE
    env = service["environment"]
    assert env["TRACKER_BROKER"] == "kafka://kafka:9092"
    assert env["TRACKER_WEB_HOST"] == env["TRACKER_COLLECTOR_HOST"] == "0.0.0.0"
    assert "TRACKER_PSEUDONYM_KEY" not in env  # never inline: a secret file
    assert env["TRACKER_PSEUDONYM_KEY_FILE"] == "/run/secrets/tracker_pseudonym_key"
    assert [s["source"] for s in service["secrets"]] == ["tracker_pseudonym_key"]
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert any(p["target"] == port for p in service["ports"])
    assert str(port) in " ".join(service["healthcheck"]["test"])


def test_workers_keep_separate_state(compose: dict[str, Any]) -> None:
    volumes = [
        _mounts(compose["services"][name])["/var/lib/tracker"]
        for name in ("tracker-worker-1", "tracker-worker-2")
    ]
    assert volumes[0] != volumes[1]


def test_pseudonym_key_comes_from_an_uncommitted_file(compose: dict[str, Any]) -> None:
    secret = Path(compose["secrets"]["tracker_pseudonym_key"]["file"])
    assert secret.parent == DEPLOY / "compose" / "secrets"
    ignore = (secret.parent / ".gitignore").read_text().split()
    assert "*" in ignore


def test_prometheus_mounts_the_one_rules_source(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert _mounts(prometheus)["/etc/prometheus"] == str(DEPLOY / "prometheus")
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_alertmanager_and_grafana_mounts(compose: dict[str, Any]) -> None:
    alertmanager = _mounts(compose["services"]["alertmanager"])
    assert alertmanager["/etc/alertmanager"] == str(DEPLOY / "alertmanager")
    assert (DEPLOY / "alertmanager" / "alertmanager.yml").is_file()
    grafana = _mounts(compose["services"]["grafana"])
    assert grafana["/etc/grafana/provisioning"] == str(DEPLOY / "grafana" / "provisioning")
    assert grafana["/var/lib/grafana/dashboards"] == str(DEPLOY / "grafana" / "dashboards")


def test_prometheus_targets_are_compose_services(compose: dict[str, Any]) -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    hosts = {
        target.rsplit(":", 1)[0]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    } - {"localhost"}
    assert hosts <= set(compose["services"])
    (alerting,) = config["alerting"]["alertmanagers"]
    assert alerting["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_dockerfile_lints_clean() -> None:
    run([tool("hadolint"), DOCKERFILE])


def test_dockerfile_is_small_non_root_and_runs_tracker() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert stages and all(image == "python:3.11-slim" for image in stages[:1] + stages[-1:])
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0"))
    assert '\nENTRYPOINT ["tracker"]' in text
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert "apt-get" not in final_stage  # no compilers or caches in the runtime image


def test_build_context_is_limited_to_what_pip_needs() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split("\n")
    assert "*" in ignore
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert {"pyproject.toml", "tracker"} <= allowed
    assert (REPO / "pyproject.toml").is_file()
