"""Bounded retention of erased data: every compacted topic gets the configs PRIVACY.md
relies on, and an existing topic without them is reported with the command that fixes it."""

from __future__ import annotations

import logging
import uuid

import pytest

from tracker.kafka.broker import BrokerHandle, ensure_topics
from tracker.kafka.topic_configs import describe
from tracker.kafka.topics import changelog_topic, prepare_topics, tracker_topics
from tracker.settings import Settings


def _settings(broker: BrokerHandle, **overrides: object) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings(
        broker=broker.url,
        topic=f"configs-{run}",
        worker_id=f"configs-worker-{run}",
        partitions=2,
        **overrides,  # type: ignore[arg-type]
    )


def test_every_topic_the_tracker_creates_has_its_bounds(embedded_broker: BrokerHandle) -> None:
    settings = _settings(embedded_broker, max_compaction_lag_hours=6, segment_hours=1)
    prepare_topics(settings, embedded_broker.bootstrap)
    topics = tracker_topics(settings, 2)
    actual = describe(
        settings.kafka_connection(embedded_broker.bootstrap), [t for t, _, _ in topics]
    )
    compacted = [
        name for name, _, config in topics if "compact" in config.get("cleanup.policy", "")
    ]
    assert len(compacted) == 3  # both changelogs and the DLQ
    for name in compacted:
        assert actual[name]["max.compaction.lag.ms"] == str(6 * 3_600_000), name
        assert actual[name]["segment.ms"] == str(3_600_000), name
    assert set(actual[settings.dlq_topic]["cleanup.policy"].split(",")) == {"compact", "delete"}
    assert actual[settings.dlq_topic]["retention.ms"] == str(72 * 3_600_000)
    for name, _, _ in topics:
        if name.endswith(("-account-activity", "-identity")):
            assert actual[name]["retention.ms"] == str(72 * 3_600_000), name


def test_an_existing_topic_without_them_is_reported_with_its_fix(
    embedded_broker: BrokerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(embedded_broker)
    changelog = changelog_topic(settings.worker_id)
    ensure_topics(embedded_broker.bootstrap, [(changelog, 2, {"cleanup.policy": "compact"})])
    with caplog.at_level(logging.WARNING, logger="tracker.kafka"):
        prepare_topics(settings, embedded_broker.bootstrap)
    [warning] = [r.getMessage() for r in caplog.records if changelog in r.getMessage()]
    assert (
        f"kafka-configs.sh --bootstrap-server {embedded_broker.bootstrap} --alter --entity-type "
        f"topics --entity-name {changelog} --add-config max.compaction.lag.ms=86400000,"
        "segment.ms=86400000"
    ) in warning
