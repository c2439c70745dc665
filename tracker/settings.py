"""Every setting of every command, in one place (environment prefix ``TRACKER_``).

The first block is the standard settings of docs/contract.md#standard-settings, a
public interface: names, defaults and meanings stay exactly as documented there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tracker.core.experiments import AllowListText
from tracker.errors import ConfigError
from tracker.kafka.changelog_codec import Codec
from tracker.kafka.connection import (
    KafkaConnection,
    KafkaSecurity,
    OptionalText,
    SaslMechanism,
    Secret,
    SecurityProtocol,
    TlsFile,
)

DEFAULT_TOUCHPOINTS = (
    "home,catalog,category,search,product,cart,checkout,payment,account,support,"
    "survey,consent_banner,store,email,social,app"
)
DEFAULT_ACTIONS = (
    "search,filter,add_to_cart,remove_from_cart,wishlist_add,support_chat,share,"
    "newsletter_signup,login,signup,review,compare,store_locator,click"
)
# The demo shop's checkout-button test (docs/metrics.md#experiments).
DEFAULT_EXPERIMENTS = "checkout-button:control|green|blue"
# Crawlers that run JavaScript and headless automation: the traffic analytics tools drop.
DEFAULT_BOT_USER_AGENTS = (
    "bot,crawler,spider,slurp,headlesschrome,phantomjs,lighthouse,pingdom,uptimerobot,"
    "facebookexternalhit,bingpreview,prerender,scrapy"
)
# Segment consent categories (lower case) -> tracker consent (docs/segment.md#consent-categories).
DEFAULT_SEGMENT_CONSENT = (
    "analytics:analytics,statistics:analytics,performance:analytics,c0002:analytics,"
    "advertising:marketing,marketing:marketing,targeting:marketing,c0004:marketing"
)
# Where events come from, each with its own bot filter (docs/metrics.md#bots).
BOT_FILTER_SOURCES = ("snippet", "segment", "kafka")
_ORIGIN = re.compile(r"^https?://[^\s/]+$")
_BROKER_URL = re.compile(r"^kafka://[^\s,/]+:\d+(,[^\s,/]+:\d+)*$")

CommaList = Annotated[tuple[str, ...], NoDecode]
CORE_HELP = "unset: tracker/core compiled if built (make compile), else its source"
FETCH_WAIT_HELP = "seconds a consumer fetch may wait at the broker (Faust's own: 1.5)"
FETCH_BYTES_HELP = "bytes a consumer fetch waits for, up to TRACKER_FETCH_MAX_WAIT (Faust's: 1)"
CODEC_HELP = (
    "state changelog values: zstd (compressed with the tracker's row dictionary) or none"
    " (JSON, readable by releases before 2026-12-05); this release reads both"
)


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Configuration; each field is the variable ``TRACKER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TRACKER_", extra="ignore", frozen=True)

    # --- standard settings (docs/contract.md#standard-settings) -------------
    broker: str | None = Field(
        None, description="kafka://host:port[,host:port…]; unset: the embedded local broker"
    )
    topic: str = Field("touchpoint-events", description="input topic (DLQ: same name + -dlq)")
    partitions: int = Field(8, ge=1, le=1024, description="partitions when the topic is created")
    web_port: int = Field(6066, ge=0, le=65535, description="worker HTTP port")
    data_dir: Path = Field(Path("./.tracker-data"), description="local state of the worker")
    session_gap: float = Field(1800, gt=0, description="seconds of inactivity that end a session")
    max_out_of_order: float = Field(
        10, ge=0, description="seconds the watermark stays behind the highest event time"
    )
    idle_timeout: float = Field(
        60,
        gt=0,
        description="seconds without input before a partition's watermark follows the wall clock",
    )
    pseudonym_key: SecretStr | None = Field(
        None, description="secret for customer-id pseudonyms (required outside the demo)"
    )
    pseudonym_key_file: Path | None = Field(None, description="file holding the pseudonym key")
    collector_port: int = Field(8088, ge=0, le=65535, description="HTTP collector port")

    # --- pipeline limits and labels ------------------------------------------
    max_message_bytes: int = Field(1_048_576, ge=1024, description="larger messages: too_large")
    max_message_events: int = Field(500, ge=1, description="larger batches: too_large")
    max_future: float = Field(
        600, ge=0, description="seconds an event may lie after its broker timestamp"
    )
    session_max_duration: float = Field(86400, gt=0, description="a session never lasts longer")
    dedup_window: float = Field(86400, gt=0, description="seconds event ids are remembered")
    repurchase_lookback: float = Field(
        90 * 86400, gt=0, description="seconds of the repurchase-rate window"
    )
    withdrawal_memory: float = Field(
        90 * 86400, gt=0, description="seconds a withdrawal marker blocks events"
    )
    identity_hold_events: int = Field(
        50, ge=0, description="events of a customer held while an identify's hand-over is pending"
    )
    identity_hold_timeout: float = Field(
        600, ge=0, description="seconds of event time after an identify its hand-over is awaited"
    )
    support_ticket_lifetime: float = Field(
        30 * 86400, gt=0, description="seconds after its last event a support ticket is forgotten"
    )
    lapse_min: float = Field(
        30 * 86400, gt=0, description="seconds after their newest order a customer lapses, at least"
    )
    lapse_gap_factor: float = Field(
        2, gt=0, description="a customer lapses this many median order gaps after the newest order"
    )
    experiments: AllowListText = Field(
        DEFAULT_EXPERIMENTS,
        description="live experiments as name:control|variant[|variant…], comma-separated"
        " (at most 8, of 2-4 variants each, the control first); empty: none",
    )
    experiment_mde: float = Field(
        0.1, gt=0, le=10, description="relative lift each arm's sample size is set to detect"
    )
    touchpoints: CommaList = Field(
        _split(DEFAULT_TOUCHPOINTS), description="touchpoint label allow-list; others: other"
    )
    actions: CommaList = Field(_split(DEFAULT_ACTIONS), description="action allow-list")
    currencies: CommaList = Field(("EUR", "USD", "GBP", "CHF"), description="currency labels")
    funnel: CommaList = Field(
        ("product", "cart", "checkout", "order"),
        description="ordered funnel steps (touchpoints; 'order' is an order event)",
    )

    # --- worker runtime --------------------------------------------------------
    worker_id: str = Field("tracker-worker", description="Faust app id = consumer group")
    flush_interval: float = Field(1.0, gt=0, description="seconds between aggregate flushes")
    fetch_max_wait: float = Field(0.1, gt=0, le=30, description=FETCH_WAIT_HELP)
    fetch_min_bytes: int = Field(65_536, ge=1, le=52_428_800, description=FETCH_BYTES_HELP)
    core: Literal["", "compiled", "source"] = Field("", description=CORE_HELP)
    changelog_codec: Codec = Field("zstd", description=CODEC_HELP)
    dlq_retention_hours: float = Field(72, gt=0, description="retention of the DLQ topic")
    max_compaction_lag_hours: float = Field(
        24,
        gt=0,
        description="max.compaction.lag.ms of every compacted topic: how long an erased row's "
        "old value may wait for compaction (PRIVACY.md)",
    )
    segment_hours: float = Field(
        24, gt=0, description="segment.ms of every compacted topic: its segments roll this often"
    )
    internal_retention_hours: float = Field(
        72, gt=0, description="retention of the internal topics (account activity, identity)"
    )
    replication_factor: int = Field(1, ge=1, description="replication of created topics")
    broker_session_timeout: float = Field(6, gt=0, description="consumer-group session timeout")
    web_host: str = Field("127.0.0.1", description="interface the worker's HTTP server binds")
    grafana_url: str = Field(
        "",
        description="Grafana base URL (https://grafana.example): the overview page links"
        " each figure to its dashboard panel; empty: no links",
    )
    # Each kafka_<x> is field <x> of KafkaSecurity (tracker/kafka/connection.py).
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (required with SASL_*)"
    )
    kafka_sasl_username: OptionalText = Field(None, description="SASL user")
    kafka_sasl_password: Secret = Field(None, description="SASL password")
    kafka_ssl_cafile: TlsFile = Field(
        None, description="CA bundle for TLS (unset: the system's CAs)"
    )
    kafka_ssl_certfile: TlsFile = Field(None, description="client certificate (PEM) for mutual TLS")
    kafka_ssl_keyfile: TlsFile = Field(
        None, description="the client certificate's private key, if not in the certificate file"
    )
    kafka_ssl_key_password: Secret = Field(
        None, description="password of the client certificate's private key"
    )

    # --- HTTP collector (tracker collector) ------------------------------------
    collector_host: str = Field(
        "127.0.0.1", description="interface the collector binds (0.0.0.0 behind a load balancer)"
    )
    collector_max_body_bytes: int = Field(
        65_536, ge=1024, description="larger POST /v1/events bodies: 413"
    )
    collector_max_events: int = Field(100, ge=1, description="more events in one request: 413")
    collector_allowed_origins: CommaList = Field(
        (),
        description="origins allowed to post cross-origin (https://shop.example, or *);"
        " same-origin and Origin-less requests always pass",
    )
    collector_bot_user_agents: CommaList = Field(
        _split(DEFAULT_BOT_USER_AGENTS),
        description="user-agent substrings (case-insensitive) dropped as bots, on top of the"
        " maintained crawler list; empty UA too",
    )
    write_keys: SecretStr | None = Field(
        None,
        description="Segment API write keys, comma-separated (several: rotation); KEY:upstream"
        " marks a source whose consent was collected upstream (docs/segment.md)",
    )
    segment_consent_categories: CommaList = Field(
        _split(DEFAULT_SEGMENT_CONSENT),
        description="Segment consent categories as category:analytics or category:marketing"
        " (case-insensitive); others are ignored",
    )
    bot_filter_off: CommaList = Field(
        (),
        description="sources whose bots are let through: snippet (POST /v1/events), segment"
        " (the Segment API), kafka (the worker's check of every event's user_agent)",
    )
    collector_rate_limit: float = Field(
        50, ge=0, description="requests per second per client IP (token bucket); 0: no limit"
    )
    collector_rate_burst: int = Field(100, ge=1, description="requests a client may send at once")
    collector_proxy_hops: int = Field(
        0, ge=0, description="trusted proxies in front: take the client IP from X-Forwarded-For"
    )
    collector_produce_timeout: float = Field(
        5, gt=0, description="seconds to wait for the broker's acknowledgement before a 503"
    )
    collector_retry_after: int = Field(5, ge=1, description="Retry-After seconds sent with a 503")
    collector_linger_ms: int = Field(
        2, ge=0, description="ms the producer waits to batch requests into one broker write"
    )
    collector_idempotence: bool = Field(
        True, description="idempotent producer when the broker supports it"
    )
    collector_demo: bool = Field(
        False, description="serve the demo shop at /demo/ (tracker demo turns it on)"
    )
    collector_read_timeout: float = Field(
        10, gt=0, description="seconds a request body may take to arrive; slower: 408, closed"
    )
    collector_max_header_bytes: int = Field(
        8190, ge=1024, description="longest request line or header field; longer: 400"
    )

    @field_validator(
        *("touchpoints", "actions", "currencies", "funnel", "collector_allowed_origins"),
        *("collector_bot_user_agents", "bot_filter_off", "segment_consent_categories"),
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _BROKER_URL.match(value):
            raise ValueError("must look like kafka://host:port[,host:port…]")
        return value

    @field_validator("currencies")
    @classmethod
    def _currency_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"{code!r} is not an ISO 4217 code (3 upper-case letters)")
        return value

    @field_validator("grafana_url")
    @classmethod
    def _grafana_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://\S+$", value):
            raise ValueError("an http:// or https:// URL, or empty")
        return value.rstrip("/")

    @field_validator("collector_allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Browsers send Origin as scheme://host[:port], lower-case, without a path.
        origins = tuple(origin.rstrip("/").lower() for origin in value)
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://shop.example or *")
        return origins

    @field_validator("bot_filter_off")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for source in value:
            if source not in BOT_FILTER_SOURCES:
                raise ValueError(f"{source!r} is not one of {', '.join(BOT_FILTER_SOURCES)}")
        return value

    @field_validator("segment_consent_categories")
    @classmethod
    def _consent_pairs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        pairs = tuple(pair.lower() for pair in value)
        for pair in pairs:
            if pair.partition(":")[2] not in ("analytics", "marketing"):
                raise ValueError(f"{pair!r} is not category:analytics or category:marketing")
        return pairs

    @field_validator("write_keys")
    @classmethod
    def _write_keys(cls, value: SecretStr | None) -> SecretStr | None:
        from tracker.collector.segment_auth import parse_write_keys  # the collector's format

        parse_write_keys(value)
        return value

    @field_validator("collector_bot_user_agents")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(part.lower() for part in value)

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        self.kafka_security()  # e.g. SASL_SSL without a mechanism: refused at start
        return self

    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(**self._kafka_fields())

    def kafka_connection(self, bootstrap: str) -> KafkaConnection:
        """How every Kafka client connects to ``bootstrap`` (host:port,…, as resolved)."""
        return KafkaConnection(bootstrap_servers=_split(bootstrap), **self._kafka_fields())

    def _kafka_fields(self) -> dict[str, Any]:
        return {name: getattr(self, f"kafka_{name}") for name in KafkaSecurity.model_fields}

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}-dlq"

    @property
    def bootstrap(self) -> str | None:
        """host:port,… for Kafka clients, or None for the embedded broker."""
        return self.broker.removeprefix("kafka://") if self.broker else None

    def resolved_pseudonym_key(self) -> bytes | None:
        if self.pseudonym_key is not None and self.pseudonym_key.get_secret_value():
            return self.pseudonym_key.get_secret_value().encode()
        if self.pseudonym_key_file is not None:
            try:
                key = self.pseudonym_key_file.read_bytes().strip()
            except OSError as exc:
                raise ConfigError(
                    f"TRACKER_PSEUDONYM_KEY_FILE: cannot read {self.pseudonym_key_file}: {exc}"
                ) from exc
            if len(key) < 16:
                raise ConfigError("TRACKER_PSEUDONYM_KEY_FILE: the key must be at least 16 bytes")
            return key
        return None


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if not error["loc"]:  # a rule across settings; its message names them
                problems.append(error["msg"])
                continue
            name = "TRACKER_" + "_".join(str(p) for p in error["loc"][:1]).upper()
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("bad configuration:\n  " + "\n  ".join(problems)) from None


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows for the README and ``tracker config``."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, tuple):
            default = ",".join(default)
        elif isinstance(default, Path) and not default.is_absolute():
            default = f"./{default}"
        rows.append(
            (
                f"TRACKER_{name.upper()}",
                "" if default is None else str(default),
                field.description or "",
            )
        )
    return rows
