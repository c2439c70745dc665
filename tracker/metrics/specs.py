"""The shape of a metric declaration: its labels, their bounded values, and the spec itself.

Pure, like the catalogue that declares every metric with these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]
Process = Literal["worker", "collector"]


@dataclass(frozen=True, slots=True)
class Label:
    """A label and its bounded values: a fixed set, or the setting that bounds them."""

    name: str
    values: tuple[str, ...] = ()
    source: str = ""

    def describe(self) -> str:
        return ", ".join(self.values) if self.values else self.source


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str  # as exposed: counters end in _total
    kind: Kind
    help: str
    labels: tuple[Label, ...] = ()
    process: Process = "worker"
    # Counter keys of the aggregates (the part before the first SEP) that feed this metric.
    keys: tuple[str, ...] = ()
    note: str = ""  # README only: what the help text leaves out

    def with_note(self, note: str) -> MetricSpec:
        return replace(self, note=note)

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def family(self) -> str:
        """The family name in the text format's parser: counters without ``_total``."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name

    def series(self) -> tuple[str, ...]:
        """Sample names it may expose (``_created``: prometheus_client's, where it adds one)."""
        if self.kind == "gauge":
            return (self.name,)
        suffixes = ("_bucket", "_sum", "_count") if self.kind == "histogram" else ("_total",)
        return tuple(self.family + suffix for suffix in (*suffixes, "_created"))


class UndeclaredMetricError(RuntimeError):
    """A counter key that no declared metric exports: it would never be seen."""


def tables(specs: Iterable[MetricSpec]) -> str:
    """Markdown tables: every metric, then the values of every label."""
    specs = tuple(specs)
    rows = ["| metric | type | labels | exported by | meaning |", "|---|---|---|---|---|"]
    for s in specs:
        meaning = f"{s.help}. {s.note}" if s.note else s.help
        meaning = meaning.replace("|", "\\|")
        rows.append(
            f"| `{s.name}` | {s.kind} | {', '.join(s.label_names)} | {s.process} | {meaning} |"
        )
    rows += ["", "| label | values | metrics |", "|---|---|---|"]
    users: dict[Label, list[str]] = {}
    for s in specs:
        for label in s.labels:
            users.setdefault(label, []).append(s.name)
    # A label name with several value sets: the most used one goes without a list of metrics.
    usual: dict[str, Label] = {}
    for label, names in users.items():
        if label.name not in usual or len(names) > len(users[usual[label.name]]):
            usual[label.name] = label
    for label, names in sorted(users.items(), key=lambda item: item[0].name):
        values = ", ".join(f"`{v}`" for v in label.values) if label.values else label.source
        where = ", ".join(f"`{n}`" for n in names)
        if sum(lab.name == label.name for lab in users) == 1:
            where = "all"
        elif usual[label.name] == label and len(names) > 2:
            where = "the others"
        rows.append(f"| {label.name} | {values} | {where} |")
    return "\n".join(rows)
