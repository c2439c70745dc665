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


# Where a worker's samples go, first match wins (a frame name containing the marker).
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("start-up (imports)", ("_find_and_load ", "_bootstrap>")),
    ("/metrics scrapes (the benchmark's polling)", ("generate_latest ",)),
    ("changelog writes (FaustStore.put/delete)", ("FaustStore.put ", "FaustStore.delete ")),
    ("German lexicon load (first German comment)", ("GermanLexiconScorer.load ",)),
    (
        "tracker logic: decode + validate (classify)",
        ("classify (tracker/ingest.py)", "_reemit_activities "),
    ),
    ("tracker logic: event views", ("PartitionProcessor._view ",)),
    ("tracker logic: sessionizer", ("accept (tracker/sessionizer.py)", "close_session ")),
    ("tracker logic: rows (load, encode, index)", ("PartitionProcessor.process ",)),
    ("tracker logic: account stage", ("AccountProcessor.",)),
    ("tracker logic: flush/tick timer", ("PartitionProcessor.flush ", "PartitionProcessor.tick ")),
    ("DLQ/activity sends (Topic.send)", ("Topic.send ", "Topic.publish_message ")),
    ("Kafka producer I/O (aiokafka sender)", ("aiokafka/producer",)),
    ("Faust consumer + stream machinery", ("faust/", "aiokafka/consumer", "mode/")),
    ("asyncio event loop, sockets", ("asyncio/", "selectors.py")),
)


def categorize(path: Path) -> list[tuple[str, float]]:
    """Share of samples per category of ``CATEGORIES`` (``other`` for the rest)."""
    counts: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(path):
        total += count
        counts[_category(frames)] += count
    if not total:
        return []
    return [(name, n / total) for name, n in counts.most_common()]


def _category(frames: list[str]) -> str:
    for name, markers in CATEGORIES:
        for frame in frames:
            if any(marker in frame for marker in markers):
                return name
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
