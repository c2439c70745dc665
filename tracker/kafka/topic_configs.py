"""Topics that already exist keep their configs: check them, and say how to fix them.

The tracker creates its topics with the configs PRIVACY.md's bounds rely on
(``max.compaction.lag.ms``, ``segment.ms``, retention, a compacted DLQ). A topic
created earlier, by hand or by an older release, keeps what it had; creating it
again changes nothing. So at start every topic is compared with what the tracker
wants, and a difference is logged with the exact ``kafka-configs`` command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from tracker.kafka.connection import KafkaConnection

log = logging.getLogger("tracker.kafka")
# Settings whose value is a list: compared as sets, written as [a,b] by kafka-configs.
_LISTS = frozenset({"cleanup.policy"})


def differences(wanted: dict[str, str], actual: dict[str, str]) -> dict[str, str]:
    """The wanted settings a topic does not have (name -> wanted value)."""
    out = {}
    for name, value in wanted.items():
        have = actual.get(name)
        if name in _LISTS:
            same = have is not None and set(have.split(",")) == set(value.split(","))
        else:
            same = have == value
        if not same:
            out[name] = value
    return out


def fix_command(bootstrap: str, topic: str, missing: dict[str, str]) -> str:
    """The kafka-configs call that gives ``topic`` the ``missing`` settings."""
    pairs = ",".join(
        f"{name}=[{value}]" if name in _LISTS and "," in value else f"{name}={value}"
        for name, value in sorted(missing.items())
    )
    return (
        f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics "
        f"--entity-name {topic} --add-config {pairs}"
    )


def check_topic_configs(
    connection: KafkaConnection, topics: Iterable[tuple[str, int, dict[str, str]]]
) -> list[str]:
    """Warn about every existing topic whose configs differ; returns the warnings."""
    wanted = {name: config for name, _partitions, config in topics if config}
    try:
        actual = describe(connection, list(wanted))
    except Exception as exc:  # a broker without DescribeConfigs (the embedded one): no check
        log.info("topic configs not checked: %s", type(exc).__name__)
        return []
    warnings = []
    bootstrap = ",".join(connection.bootstrap_servers)
    for topic, config in wanted.items():
        missing = differences(config, actual.get(topic, {}))
        if topic in actual and missing:
            warnings.append(
                f"topic {topic} lacks {', '.join(f'{k}={v}' for k, v in sorted(missing.items()))}"
                f" (PRIVACY.md's bounds rely on them); fix it with: "
                f"{fix_command(bootstrap, topic, missing)}"
            )
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def describe(connection: KafkaConnection, topics: list[str]) -> dict[str, dict[str, str]]:
    """The configs of the existing ``topics`` as the broker reports them."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(
        client_id="tracker-admin", request_timeout_ms=10_000, **connection.kafka_python_options()
    )
    try:
        existing = set(admin.list_topics())
        resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics if t in existing]
        if not resources:
            return {}
        # Every value, defaults too: some brokers report what a topic was created with as such.
        answer = admin.describe_configs(resources, config_filter="all").get("topic", {})
        return {
            topic: {key: str(entry["value"]) for key, entry in entries.items() if entry["value"]}
            for topic, entries in answer.items()
        }
    finally:
        admin.close()
