"""Where a profiled worker's samples go (bench/flame.py), on py-spy's collapsed stacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.flame import LOOP, PRODUCER, TRACKER, categorize

SP = "/venv/lib/python3.11/site-packages"
ROOT = f"run (tracker/stream/worker.py:85);execute_from_commandline ({SP}/mode/worker.py:264)"
LOOP_FRAMES = "run_forever (/usr/lib/python3.11/asyncio/base_events.py:607)"
AGENT = f"{ROOT};{LOOP_FRAMES};_execute_actor ({SP}/faust/agents/agent.py:698)"
HANDLE = f"{AGENT};Pipeline.handle (/repo/tracker/stream/pipeline.py:169)"


def _shares(tmp_path: Path, *stacks: str) -> dict[str, float]:
    profile = tmp_path / "profile.txt"
    profile.write_text("".join(f"{stack} 1\n" for stack in stacks))
    return dict(categorize(profile))


@pytest.mark.parametrize(
    ("stack", "category"),
    [
        # The compiled core leaves no frame: its time is booked to the calling line.
        (HANDLE, TRACKER),
        (
            f"{HANDLE};FaustStore.put (/repo/tracker/stream/store.py:60);"
            f"send_changelog ({SP}/faust/tables/base.py:300)",
            "changelog writes (FaustStore.put/delete, Table.send_changelog)",
        ),
        (
            f"{HANDLE};parse_event (/repo/tracker/core/contract.py:329)",
            "tracker logic: decode + validate (tracker/core/ingest, contract)",
        ),
        # Python the compiled core calls: still the tracker's work.
        (f"{HANDLE};FaustStore.get (/repo/tracker/stream/store.py:40)", TRACKER),
        (f"{HANDLE};new (/usr/lib/python3.11/hmac.py:184)", TRACKER),
        (
            f"{AGENT};Pipeline.handle_activity (/repo/tracker/stream/pipeline.py:240);"
            "AccountProcessor.process (/repo/tracker/core/accounts.py:230);"
            "Delta.merge (/repo/tracker/core/aggregates.py:70)",
            "tracker logic: account stage (tracker/core/accounts)",
        ),
        (f"{AGENT};Stream.ack ({SP}/faust/streams.py:900)", "Faust consumer + stream machinery"),
        # Faust's producer awaited from the agent: the producer's, by the innermost frame.
        (
            f"{AGENT};Producer.send ({SP}/faust/transport/drivers/aiokafka.py:1100)",
            PRODUCER,
        ),
        # Faust's buffer sending a changelog row, and Kafka code the producer shares.
        (
            f"{ROOT};{LOOP_FRAMES};ProducerBuffer._handle_pending ({SP}/faust/transport/"
            f"producer.py:90);ProducerBuffer._send_pending ({SP}/faust/transport/producer.py:"
            f"97);Topic.publish_message ({SP}/faust/topics.py:411)",
            PRODUCER,
        ),
        (
            f"{ROOT};{LOOP_FRAMES};Sender._sender_routine ({SP}/aiokafka/producer/sender.py:"
            f"167);AIOKafkaClient.send ({SP}/aiokafka/client.py:474);AIOKafkaConnection.send "
            f"({SP}/aiokafka/conn.py:423);Schema.encode ({SP}/aiokafka/protocol/types.py:198)",
            PRODUCER,
        ),
        (
            f"{ROOT};{LOOP_FRAMES};Fetcher._fetch_requests_routine ({SP}/aiokafka/consumer/"
            f"fetcher.py:400);AIOKafkaConnection.send ({SP}/aiokafka/conn.py:423)",
            "Faust consumer + stream machinery",
        ),
        # A loop written in C leaves only the runner's frame.
        (f"{ROOT}", LOOP),
        (
            f"{ROOT};{LOOP_FRAMES};Handle._run (/usr/lib/python3.11/asyncio/events.py:80);"
            f"_sample_history (/repo/tracker/stream/web.py:176)",
            "the overview page's history (a 15 s timer)",
        ),
        (
            "_bootstrap_inner (/usr/lib/python3.11/threading.py:1045);run (threading.py:982)",
            "other",
        ),
        # The loop's own work under mode's worker is the loop's, not Faust's.
        (f"{ROOT};{LOOP_FRAMES};Handle._run (/usr/lib/python3.11/asyncio/events.py:80)", LOOP),
        (
            f"{ROOT};{LOOP_FRAMES};ProducerBuffer._handle_pending ({SP}/faust/transport/"
            f"producer.py:90);send ({SP}/aiokafka/producer/producer.py:502);"
            "create_future (/usr/lib/python3.11/asyncio/base_events.py:427)",
            PRODUCER,
        ),
    ],
)
def test_each_stack_lands_in_its_category(tmp_path: Path, stack: str, category: str) -> None:
    assert _shares(tmp_path, stack) == {category: 1.0}


def test_shares_add_up_over_samples(tmp_path: Path) -> None:
    shares = _shares(tmp_path, HANDLE, HANDLE, HANDLE, f"{AGENT};Stream.ack ({SP}/faust/s.py:1)")
    assert shares == {TRACKER: 0.75, "Faust consumer + stream machinery": 0.25}
