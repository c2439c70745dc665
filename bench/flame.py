"""Summaries of py-spy's collapsed stacks (``py-spy record -f raw``): where the time goes.

python -m bench.flame profile.txt [--under FUNCTION] [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True, slots=True)
class Summary:
    samples: int
    inclusive: list[tuple[str, float]]  # function -> share of samples with it on the stack
    own: list[tuple[str, float]]  # function -> share of samples with it on top


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "/tracker/", "/bench/", "/lib/python3"):
        if marker in file:
            file = (
                file.split(marker, 1)[1]
                if marker != "/tracker/"
                else "tracker/" + file.split(marker, 1)[1]
            )
            break
    return f"{match['func']} ({file})"


def _stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    """The frames (outermost first) and sample count of each line of py-spy's raw output."""
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            yield [_name(f) for f in stack.split(";")], int(count_text)


def summarize(path: Path, under: str | None = None, top: int = 25) -> Summary:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(path):
        if under is not None:
            hits = [i for i, f in enumerate(frames) if f.startswith(under + " ")]
            if not hits:
                continue
            frames = frames[hits[0] :]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if total == 0:
        return Summary(0, [], [])
    return Summary(
        total,
        [(n, c / total) for n, c in inclusive.most_common(top)],
        [(n, c / total) for n, c in own.most_common(top)],
    )


# Where a worker's samples go. First what the tracker calls out to, a frame name
# containing a marker anywhere on the stack, first category first: these sit above the
# tracker's frames, which sit above the agents' (faust/).
CALLS_OUT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("start-up (imports)", ("_find_and_load ", "_bootstrap>")),
    (
        "/metrics scrapes (the benchmark's polling)",
        ("generate_latest ", "WorkerMetrics.text ", "metrics_page "),
    ),
    ("the overview page's history (a 15 s timer)", ("_sample_history ",)),
    (
        "changelog writes (FaustStore.put/delete, Table.send_changelog)",
        ("FaustStore.put ", "FaustStore.delete ", "FaustStore._send "),
    ),
    (
        "comment analyzers' start (lexicon load)",
        ("GermanLexiconScorer.load ", "SentimentScorer.warm_up "),
    ),
    (
        "dead-letter, activity and identity sends (Topic.send)",
        ("Topic.send ", "IdentitySender.run "),
    ),
)
# Then whose frame is innermost: the tracker's (its modules that run as Python, by
# module, else the compiled core), a library's, or the event loop's.
PYTHON_CORE: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "tracker logic: decode + validate (tracker/core/ingest, contract)",
        ("(tracker/core/ingest.py)", "(tracker/core/contract.py)", "(tracker/core/schemas.py)"),
    ),
    ("tracker logic: account stage (tracker/core/accounts)", ("(tracker/core/accounts.py)",)),
)
# tracker/core's compiled modules (mypyc) leave no Python frames: py-spy books their time
# to the Python line that called them, in the wiring (tracker/stream) or in the modules
# that stay Python (contract.py, schemas.py). A sample whose innermost tracker frame is
# neither of the above is that, or the wiring's own few lines around each call.
TRACKER = "tracker logic: compiled tracker/core and the wiring"
PRODUCER = "Kafka producer (Faust's buffer, aiokafka's send and sender)"
LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        PRODUCER,
        (
            "aiokafka/producer",
            "ProducerBuffer.",
            "Producer.send (faust/transport/",
            "Topic.publish_message ",  # Faust's buffer sending a changelog row
            "Topic._on_published ",
        ),
    ),
    ("Faust consumer + stream machinery", ("faust/", "mode/", "aiokafka/")),
)
LOOP = "asyncio event loop, sockets"
# Frames that work for whoever called them: the loop's, and Kafka's connection, protocol
# and record code, which the producer and the consumer share.
SHARED = (
    "asyncio/",
    "selectors.py",
    "(aiokafka/conn.py)",
    "(aiokafka/client.py)",
    "aiokafka/protocol/",
    "aiokafka/record/",
    "(aiokafka/util.py)",
    "faust/sensors/",
)
# mode's worker and thread runners are the roots of every stack of their thread: innermost,
# the sample is the loop's (its own code, or a loop written in C).
LOOP_RUNNERS = ("(mode/worker.py)", "(mode/threads.py)")


def categorize(path: Path) -> list[tuple[str, float]]:
    """Share of samples per category (``other`` for the rest)."""
    counts: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(path):
        total += count
        counts[_category(frames)] += count
    if not total:
        return []
    return [(name, n / total) for name, n in counts.most_common()]


def _category(frames: list[str]) -> str:
    for name, markers in CALLS_OUT:
        if any(marker in frame for frame in frames for marker in markers):
            return name
    for frame in reversed(frames):
        if "(tracker/" in frame:
            for name, markers in PYTHON_CORE:
                if any(marker in f for f in frames for marker in markers):
                    return name
            return TRACKER
        if any(runner in frame for runner in LOOP_RUNNERS):
            return LOOP
        if any(shared in frame for shared in SHARED):
            continue  # a future, a write, a request: its caller's
        for name, markers in LIBRARIES:
            if any(marker in frame for marker in markers):
                return name
    if any("aiokafka/" in frame for frame in frames):
        return "Faust consumer + stream machinery"  # Kafka's connections, under no one else
    if any("asyncio/" in frame or "selectors.py" in frame for frame in frames):
        return LOOP
    return "other"


def render(summary: Summary) -> str:
    lines = [f"{summary.samples} samples", "", "inclusive (on the stack):"]
    lines += [f"  {share:6.1%}  {name}" for name, share in summary.inclusive]
    lines += ["", "own (on top of the stack):"]
    lines += [f"  {share:6.1%}  {name}" for name, share in summary.own]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--under", help="only stacks through this function, from it down")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--categories", action="store_true", help="shares by category only")
    args = parser.parse_args()
    if args.categories:
        for name, share in categorize(args.profile):
            print(f"{share:6.1%}  {name}")
        return
    print(render(summarize(args.profile, args.under, args.top)))


if __name__ == "__main__":
    main()
