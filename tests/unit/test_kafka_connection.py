"""One Kafka connection model: its translations, its validation, and secrets that stay secret."""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import subprocess
import traceback
from pathlib import Path

import faust
import pytest
from click.testing import CliRunner
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import to_credentials

from tracker.cli import main
from tracker.errors import ConfigError
from tracker.kafka.connection import KafkaConnection, KafkaSecurity, as_connection
from tracker.kafka.topics import tracker_topics
from tracker.settings import Settings, load_settings
from tracker.stream.options import faust_credentials, faust_options

SASL_PASSWORD = "sasl-pw-Zq81xUnlikelyInAnyLog"
KEY_PASSWORD = "key-pw-Vb27yUnlikelyInAnyLog"
PSEUDONYM_KEY = "pseudonym-key-Hm55wUnlikelyInAnyLog"
SECRETS = (SASL_PASSWORD, KEY_PASSWORD, PSEUDONYM_KEY)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TRACKER_KAFKA_", "TRACKER_PSEUDONYM_KEY")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate (doubling as the CA) and its key, encrypted with KEY_PASSWORD."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "client.pem", root / "client.key"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2"
    files = ["-keyout", str(key), "-out", str(cert), "-passout", f"pass:{KEY_PASSWORD}"]
    subprocess.run(
        [*command.split(), "-subj", "/CN=tracker-test", *files],
        check=True,
        capture_output=True,
    )
    return {"cafile": cert, "certfile": cert, "keyfile": key}


def _connection(**security: object) -> KafkaConnection:
    return KafkaConnection.model_validate({"bootstrap_servers": "k1:9092,k2:9093", **security})


def _sasl(protocol: str, mechanism: str, **tls: object) -> KafkaConnection:
    return _connection(
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username="tracker",
        sasl_password=SASL_PASSWORD,
        **tls,
    )


def _faust_view(connection: KafkaConnection) -> dict[str, object]:
    """What Faust hands aiokafka for the worker, from the credentials we give it."""
    return dict(credentials_to_aiokafka_auth(to_credentials(faust_credentials(connection))))


# --- translations -------------------------------------------------------------


def test_plaintext_passes_no_credentials_even_when_some_are_set() -> None:
    connection = _connection(sasl_password=SASL_PASSWORD)
    expected = {"bootstrap_servers": ["k1:9092", "k2:9093"], "security_protocol": "PLAINTEXT"}
    assert connection.aiokafka_options() == expected
    assert connection.kafka_python_options() == expected
    assert faust_credentials(connection) is None
    assert _faust_view(connection) == {"security_protocol": "PLAINTEXT"}


def test_ssl_with_a_client_certificate(tls: dict[str, Path]) -> None:
    connection = _connection(
        security_protocol="SSL",
        ssl_cafile=tls["cafile"],
        ssl_certfile=tls["certfile"],
        ssl_keyfile=tls["keyfile"],
        ssl_key_password=KEY_PASSWORD,
    )
    aio = connection.aiokafka_options()
    assert aio.keys() == {"bootstrap_servers", "security_protocol", "ssl_context"}
    context = aio["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert connection.kafka_python_options() == {
        "bootstrap_servers": ["k1:9092", "k2:9093"],
        "security_protocol": "SSL",
        "ssl_cafile": str(tls["cafile"]),
        "ssl_certfile": str(tls["certfile"]),
        "ssl_keyfile": str(tls["keyfile"]),
        "ssl_password": KEY_PASSWORD,
    }
    faust_view = _faust_view(connection)
    assert faust_view["security_protocol"] == "SSL"
    assert isinstance(faust_view["ssl_context"], ssl.SSLContext)


def test_ssl_with_a_wrong_key_password_fails_when_the_context_is_built(
    tls: dict[str, Path],
) -> None:
    connection = _connection(
        security_protocol="SSL",
        ssl_certfile=tls["certfile"],
        ssl_keyfile=tls["keyfile"],
        ssl_key_password="not-the-password",
    )
    with pytest.raises(ssl.SSLError):
        connection.ssl_context()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_with_scram(tls: dict[str, Path], mechanism: str) -> None:
    connection = _sasl("SASL_SSL", mechanism, ssl_cafile=tls["cafile"])
    sasl = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "tracker",
        "sasl_plain_password": SASL_PASSWORD,
    }
    aio = connection.aiokafka_options()
    assert isinstance(aio.pop("ssl_context"), ssl.SSLContext)
    assert aio == {"bootstrap_servers": ["k1:9092", "k2:9093"], **sasl}
    assert connection.kafka_python_options() == {
        "bootstrap_servers": ["k1:9092", "k2:9093"],
        **sasl,
        "ssl_cafile": str(tls["cafile"]),
    }
    faust_view = _faust_view(connection)
    assert isinstance(faust_view.pop("ssl_context"), ssl.SSLContext)
    assert faust_view == sasl, "the worker connects exactly as the collector does"


def test_sasl_plaintext_has_no_tls() -> None:
    connection = _sasl("SASL_PLAINTEXT", "PLAIN")
    sasl = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "tracker",
        "sasl_plain_password": SASL_PASSWORD,
    }
    assert connection.aiokafka_options() == {"bootstrap_servers": ["k1:9092", "k2:9093"], **sasl}
    assert connection.kafka_python_options() == connection.aiokafka_options()
    assert _faust_view(connection) == {**sasl, "ssl_context": None}


def test_the_worker_gets_the_brokers_and_credentials_from_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACKER_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")  # any case
    monkeypatch.setenv("TRACKER_KAFKA_SASL_MECHANISM", "scram-sha-256")
    monkeypatch.setenv("TRACKER_KAFKA_SASL_USERNAME", "tracker")
    monkeypatch.setenv("TRACKER_KAFKA_SASL_PASSWORD", SASL_PASSWORD)
    options = faust_options(load_settings(), "k1:9092,k2:9093", partitions=4)
    assert options["broker"] == "kafka://k1:9092;kafka://k2:9093"
    credentials = options["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.password == SASL_PASSWORD


def test_a_bare_bootstrap_is_a_plaintext_connection() -> None:
    connection = as_connection("a:1,b:2")
    assert connection.bootstrap_servers == ("a:1", "b:2")
    assert connection.security_protocol == "PLAINTEXT"
    assert as_connection(connection) is connection


def test_every_security_field_is_a_tracker_kafka_setting() -> None:
    for field in KafkaSecurity.model_fields:
        assert f"kafka_{field}" in Settings.model_fields, field


# --- validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"TRACKER_KAFKA_SECURITY_PROTOCOL": "TLS"}, "TRACKER_KAFKA_SECURITY_PROTOCOL"),
        (
            {"TRACKER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "TRACKER_KAFKA_SASL_MECHANISM": "MD5"},
            "TRACKER_KAFKA_SASL_MECHANISM",
        ),
        ({"TRACKER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "TRACKER_KAFKA_SASL_MECHANISM"),
        (
            {
                "TRACKER_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "TRACKER_KAFKA_SASL_MECHANISM": "PLAIN",
                "TRACKER_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
            },
            "TRACKER_KAFKA_SASL_USERNAME",
        ),
        (
            {
                "TRACKER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "TRACKER_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "TRACKER_KAFKA_SASL_USERNAME": "tracker",
            },
            "TRACKER_KAFKA_SASL_PASSWORD",
        ),
        ({"TRACKER_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "TRACKER_KAFKA_SSL_CAFILE"),
        ({"TRACKER_KAFKA_SSL_CERTFILE": "/"}, "TRACKER_KAFKA_SSL_CERTFILE"),
        ({"TRACKER_KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD}, "TRACKER_KAFKA_SSL_KEY_PASSWORD"),
    ],
)
def test_a_bad_connection_fails_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], named: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()
    result = CliRunner().invoke(main, ["replay", "/dev/null"])
    assert result.exit_code == 2
    assert named in result.output


def test_a_key_file_without_its_certificate_names_both(
    monkeypatch: pytest.MonkeyPatch, tls: dict[str, Path]
) -> None:
    monkeypatch.setenv("TRACKER_KAFKA_SSL_KEYFILE", str(tls["keyfile"]))
    with pytest.raises(
        ConfigError, match="TRACKER_KAFKA_SSL_KEYFILE: needs TRACKER_KAFKA_SSL_CERT"
    ):
        load_settings()


def test_blank_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SASL_MECHANISM", "SASL_PASSWORD", "SSL_CAFILE", "SSL_KEY_PASSWORD"):
        monkeypatch.setenv(f"TRACKER_KAFKA_{name}", "")
    security = load_settings().kafka_security()
    assert security == KafkaSecurity()


# --- secrets -------------------------------------------------------------------


@pytest.fixture
def secret_environment(monkeypatch: pytest.MonkeyPatch, tls: dict[str, Path]) -> None:
    monkeypatch.setenv("TRACKER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TRACKER_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("TRACKER_KAFKA_SASL_USERNAME", "tracker")
    monkeypatch.setenv("TRACKER_KAFKA_SASL_PASSWORD", SASL_PASSWORD)
    monkeypatch.setenv("TRACKER_KAFKA_SSL_CERTFILE", str(tls["certfile"]))
    monkeypatch.setenv("TRACKER_KAFKA_SSL_KEYFILE", str(tls["keyfile"]))
    monkeypatch.setenv("TRACKER_KAFKA_SSL_KEY_PASSWORD", KEY_PASSWORD)
    monkeypatch.setenv("TRACKER_PSEUDONYM_KEY", PSEUDONYM_KEY)


def _assert_secret_free(text: str, what: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{what} shows a secret"


@pytest.mark.usefixtures("secret_environment")
def test_secrets_stay_out_of_reprs_dumps_and_output(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings()
    assert settings.resolved_pseudonym_key() == PSEUDONYM_KEY.encode(), "still usable"
    connection = settings.kafka_connection("k1:9092")
    assert connection.kafka_python_options()["sasl_plain_password"] == SASL_PASSWORD
    _assert_secret_free(repr(settings), "repr(settings)")
    _assert_secret_free(str(settings), "str(settings)")
    _assert_secret_free(settings.model_dump_json(), "the settings' JSON")
    _assert_secret_free(repr(settings.model_dump()), "the settings' dump")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("tracker.test").info("connecting with %s / %r", connection, connection)
        logging.getLogger("tracker.test").info("credentials %r", faust_credentials(connection))
    assert "SCRAM-SHA-512" in caplog.text
    _assert_secret_free(caplog.text, "the log")
    for arguments in (["config"], ["config", "--markdown"]):
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 0
        _assert_secret_free(result.output, "tracker " + " ".join(arguments))


@pytest.mark.usefixtures("secret_environment")
def test_secrets_stay_out_of_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_PARTITIONS", "many")
    monkeypatch.delenv("TRACKER_KAFKA_SASL_MECHANISM")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    _assert_secret_free("".join(traceback.format_exception(caught.value)), "the ConfigError")
    assert "TRACKER_PARTITIONS" in str(caught.value)
    monkeypatch.delenv("TRACKER_PARTITIONS")
    with pytest.raises(ValueError, match="TRACKER_KAFKA_SASL_MECHANISM") as raw:
        Settings()  # the pydantic error itself, as a direct caller would see it
    _assert_secret_free(str(raw.value), "the validation error")
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 2 and "TRACKER_KAFKA_SASL_MECHANISM" in result.output
    _assert_secret_free(result.output, "tracker worker")


def test_the_workers_producer_batches_fit_every_topic_it_creates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch larger than a topic's ``max.message.bytes`` is refused whole by the broker."""
    monkeypatch.setenv("TRACKER_MAX_MESSAGE_BYTES", "1024")  # the smallest allowed
    settings = load_settings()
    batch = faust_options(settings, "k:1", partitions=4)["producer_max_batch_size"]
    assert batch >= 65_536  # larger than Faust's 16 KiB (tracker/stream/options.py says why)
    broker_default = 1_048_588  # Kafka's message.max.bytes
    for name, _, config in tracker_topics(settings, 4):
        assert batch <= int(config.get("max.message.bytes", broker_default)), name
