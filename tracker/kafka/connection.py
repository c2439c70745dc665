"""One Kafka connection model: where the brokers are and how every client authenticates.

The worker (Faust on aiokafka), the collector (aiokafka) and the commands
(kafka-python) all connect through ``KafkaConnection``, so a setting means the
same thing in each of them. Each field ``x`` is the variable
``TRACKER_KAFKA_X``; passwords stay ``SecretStr`` until the moment a client
library is handed its options, so they never reach a repr, a log line or an
error message.

Only pydantic is imported here: tracker.settings (and through it the pure
core) imports this module, and the client libraries are imported where a
translation needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    import ssl


def _blank_is_unset(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _upper(value: Any) -> Any:
    value = _blank_is_unset(value)
    return value.strip().upper() if isinstance(value, str) else value


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


SecurityProtocol = Annotated[
    Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], BeforeValidator(_upper)
]
# Optional settings: an empty variable (``TRACKER_KAFKA_SSL_CAFILE=`` in a compose file) is unset.
SaslMechanism = Annotated[
    Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None, BeforeValidator(_upper)
]
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_unset)]
# Checked when the settings are read: a missing file fails at start, not at the first connect.
TlsFile = Annotated[FilePath | None, BeforeValidator(_blank_is_unset)]
Secret = Annotated[SecretStr | None, BeforeValidator(_blank_is_unset)]
HostPort = Annotated[str, StringConstraints(pattern=r"^[^\s,/]+:\d+$")]

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


def variable(field: str) -> str:
    """The environment variable of a security field."""
    return f"TRACKER_KAFKA_{field.upper()}"


class KafkaSecurity(BaseModel):
    """How to authenticate; the TRACKER_KAFKA_* settings, checked as a whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = None
    sasl_username: OptionalText = None
    sasl_password: Secret = None
    ssl_cafile: TlsFile = None
    ssl_certfile: TlsFile = None
    ssl_keyfile: TlsFile = None
    ssl_key_password: Secret = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        problem = self._problem()
        if problem is not None:
            raise PydanticCustomError("kafka_connection", problem)
        return self

    def _problem(self) -> str | None:
        protocol = f"with {variable('security_protocol')}={self.security_protocol}"
        if self.uses_sasl:
            if self.sasl_mechanism is None:
                return (
                    f"{variable('sasl_mechanism')}: required {protocol}"
                    " (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"
                )
            for field in ("sasl_username", "sasl_password"):
                if getattr(self, field) is None:
                    return f"{variable(field)}: required {protocol}"
        for field in ("ssl_keyfile", "ssl_key_password"):
            if getattr(self, field) is not None and self.ssl_certfile is None:
                return (
                    f"{variable(field)}: needs {variable('ssl_certfile')} (the client certificate)"
                )
        return None

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in SASL_PROTOCOLS

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in TLS_PROTOCOLS


class KafkaConnection(KafkaSecurity):
    """Brokers plus security, and its one translation per client library."""

    bootstrap_servers: Annotated[tuple[HostPort, ...], BeforeValidator(_split)] = Field(
        min_length=1
    )

    @property
    def bootstrap(self) -> str:
        """host:port,host:port, for messages and for Faust's broker URL."""
        return ",".join(self.bootstrap_servers)

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context (CA file, else the system's; client certificate if set)."""
        from aiokafka.helpers import create_ssl_context

        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_cafile,
            certfile=self.ssl_certfile,
            keyfile=self.ssl_keyfile,
            password=_reveal(self.ssl_key_password),
        )
        return context

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka clients (the collector; Faust wraps the same)."""
        options: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            options.update(self._sasl())
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def kafka_python_options(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (replay, loadgen, erase, inspect, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            options.update(self._sasl())
        if self.uses_tls:
            tls = {
                "ssl_cafile": self.ssl_cafile,
                "ssl_certfile": self.ssl_certfile,
                "ssl_keyfile": self.ssl_keyfile,
            }
            options.update({key: str(path) for key, path in tls.items() if path is not None})
            if self.ssl_key_password is not None:
                options["ssl_password"] = _reveal(self.ssl_key_password)
        return options

    def _sasl(self) -> dict[str, Any]:
        # Both libraries name SCRAM's credentials sasl_plain_* too.
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": _reveal(self.sasl_password),
        }


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def as_connection(target: KafkaConnection | str) -> KafkaConnection:
    """A connection as given, or a PLAINTEXT one to ``host:port,…`` (benchmarks, tests)."""
    if isinstance(target, KafkaConnection):
        return target
    return KafkaConnection.model_validate({"bootstrap_servers": target})
