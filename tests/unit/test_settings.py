"""Bad configuration fails at start with a message naming the variable."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tracker.cli import main
from tracker.errors import ConfigError
from tracker.settings import load_settings


def test_defaults_are_the_standard_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRACKER_TOPIC", "TRACKER_PARTITIONS", "TRACKER_WEB_PORT", "TRACKER_BROKER"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.topic == "touchpoint-events"
    assert settings.dlq_topic == "touchpoint-events-dlq"
    assert settings.partitions == 8
    assert settings.web_port == 6066
    assert settings.session_gap == 1800
    assert settings.max_out_of_order == 10
    assert settings.idle_timeout == 60
    assert settings.collector_port == 8088
    assert settings.bootstrap is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRACKER_PARTITIONS", "many"),
        ("TRACKER_PARTITIONS", "0"),
        ("TRACKER_SESSION_GAP", "-5"),
        ("TRACKER_BROKER", "localhost:9092"),
        ("TRACKER_CURRENCIES", "EUR,euro"),
        ("TRACKER_WEB_PORT", "70000"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_broker_url_lists_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_BROKER", "kafka://a:9092,b:9093")
    assert load_settings().bootstrap == "a:9092,b:9093"


def test_worker_refuses_to_start_without_a_pseudonym_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRACKER_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("TRACKER_PSEUDONYM_KEY_FILE", raising=False)
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 2
    assert "TRACKER_PSEUDONYM_KEY is required" in result.output


def test_cli_reports_bad_config_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_PARTITIONS", "lots")
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 2
    assert "TRACKER_PARTITIONS" in result.output
    assert "Traceback" not in result.output
