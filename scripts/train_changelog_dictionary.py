"""Train the zstd dictionary the state changelog's rows are compressed with.

``tracker/kafka/changelog_codec.py`` compresses every changelog record on its own, and a
few hundred bytes of JSON compress well only against a dictionary of what such rows
hold: their keys, their list shapes, the counter codes. This script makes one from the
rows the pure pipeline writes for generated traffic, both shapes a worker sees: whole
journeys in one message (``bench.state``'s stream) and single events interleaved across
customers. Its seed is neither benchmark's (``bench.state`` measures seed 5, the
throughput streams seed 7), so the figures there are on rows it never saw (their start
time is the same, so the leading digits of their timestamps are in the dictionary;
rows of today's times packed ~3% larger in one check). Only generated rows, never a
deployment's: the dictionary ships in the package and would carry pieces of them.
Training is not reproducible byte for byte; the file in the repository is the
dictionary.

A dictionary, once released, is read for as long as any row written with it can sit in
a changelog: never overwrite one. Give a new one the next id, add it to
``DICTIONARIES`` and point ``WRITING`` at it:

    python scripts/train_changelog_dictionary.py --dict-id 0x74726B02
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench is not installed; run from a checkout

from bench import state  # noqa: E402
from tracker.testing.traffic import TrafficGenerator  # noqa: E402

SEED = 23
SIZE = 16_384  # bytes; 4-32 KiB measured within 3% of each other on held-out rows


class Recording(state.RowStore):
    """The state bench's store, keeping every value written: the training samples."""

    def __init__(self, samples: list[bytes]) -> None:
        super().__init__("none")  # the samples are the rows as JSON
        self.samples = samples

    def put(self, key: str, value: bytes) -> None:
        super().put(key, value)
        self.samples.append(bytes(value))


def rows(customers: int) -> list[bytes]:
    samples: list[bytes] = []
    config = state.pipeline_config()
    for stream in (_journeys(customers), _single_events(customers * 4)):
        stores = {p: Recording(samples) for p in range(state.PARTITIONS)}
        processors = {p: config.processor(p, stores[p], state.PARTITIONS) for p in stores}
        _, last = state.feed(processors, stream)
        state.housekeeping(processors, last + config.rules.gap_ms + 60_000)
    return samples


def _journeys(customers: int) -> list[tuple[bytes, bytes, int]]:
    return list(state.messages(customers, state.templates(seed=SEED)))


def _single_events(events: int) -> list[tuple[bytes, bytes, int]]:
    generator = TrafficGenerator(random.Random(SEED), malformed_share=0)
    stream = generator.simulate(events, state.START_MS, 500.0)
    return [(m.key, m.value, m.timestamp_ms) for m in stream if m.key is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dict-id", type=lambda text: int(text, 0), required=True)
    parser.add_argument("--customers", type=int, default=5_000)
    args = parser.parse_args()
    samples: list[bytes | bytearray | memoryview[int]] = list(rows(args.customers))
    random.Random(SEED).shuffle(samples)
    dictionary = zstandard.train_dictionary(SIZE, samples, dict_id=args.dict_id, level=3, threads=1)
    out = ROOT / "tracker" / "data" / "changelog" / f"rows-{args.dict_id & 0xFF}.zdict"
    if out.exists():
        sys.exit(f"{out.relative_to(ROOT)} exists: a released dictionary is never replaced")
    out.write_bytes(dictionary.as_bytes())
    print(f"{out.relative_to(ROOT)}: {len(dictionary.as_bytes())} bytes from {len(samples)} rows")


if __name__ == "__main__":
    main()
