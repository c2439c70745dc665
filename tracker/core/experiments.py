"""Live experiments (docs/metrics.md#experiments): the allow-list, a session's variants. Pure.

An event may name the experiment the customer is in and the variant shown
(docs/contract.md#experiments). Only pairs on ``TRACKER_EXPERIMENTS`` count, so
the labels stay bounded; a session keeps, per experiment, the variant of its
first such event by event time, and counts for it when it closes. The
statistics read off these counts live in ``tracker.core.experiment_stats``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator

from tracker.core.aggregates import Delta, counter_key
from tracker.core.bounds import EXPERIMENT_NAME_PATTERN, MAX_EXPERIMENTS, MAX_VARIANTS

SESSIONS = "tracker_experiment_sessions_total"
CONVERSIONS = "tracker_experiment_conversions_total"
_NAME = re.compile(EXPERIMENT_NAME_PATTERN)
_FORMAT = "name:control|variant[|variant…], e.g. checkout-button:control|green|blue"

# An allow-list: each experiment with its variants, the control first.
AllowList = tuple[tuple[str, tuple[str, ...]], ...]
Pair = tuple[str, str]  # (experiment, variant), both on the allow-list


class Seen(NamedTuple):
    """A session's first event of one experiment: when, and the variant it showed."""

    at_ms: int
    experiment: str
    variant: str


def parse_allow_list(spec: str) -> AllowList:
    """``TRACKER_EXPERIMENTS``; a ValueError says what to fix."""
    experiments: dict[str, tuple[str, ...]] = {}
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        name, colon, rest = entry.partition(":")
        variants = tuple(v.strip() for v in rest.split("|"))
        if not colon or not all(variants):
            raise ValueError(f"{entry!r} is not {_FORMAT}")
        for text in (name, *variants):
            if not _NAME.match(text):
                raise ValueError(
                    f"{text!r} in {entry!r}: names are 1-64 of a-z 0-9 _ . - (a letter or digit first)"
                )
        if name in experiments:
            raise ValueError(f"experiment {name!r} is listed twice")
        if len(set(variants)) != len(variants):
            raise ValueError(f"{entry!r} lists a variant twice")
        if not 2 <= len(variants) <= MAX_VARIANTS:
            raise ValueError(
                f"{entry!r}: an experiment has a control and 1 to {MAX_VARIANTS - 1} variants"
            )
        experiments[name] = variants
    if len(experiments) > MAX_EXPERIMENTS:
        raise ValueError(f"at most {MAX_EXPERIMENTS} experiments at once; end one first")
    return tuple(experiments.items())


def _checked(spec: str) -> str:
    parse_allow_list(spec)
    return spec


AllowListText = Annotated[str, AfterValidator(_checked)]  # the setting, checked at start


def arms(allowed: AllowList) -> frozenset[Pair]:
    """Every allowed (experiment, variant) pair: what an event's pair is checked against."""
    return frozenset((name, variant) for name, variants in allowed for variant in variants)


def note(seen: list[Seen] | None, pair: Pair, at_ms: int) -> list[Seen]:
    """The session's variants after an event of ``pair`` joined it (changed in place).

    Per experiment the earliest event wins, the smaller variant name on a tie: the
    same variant whatever order the events arrive in.
    """
    new = Seen(at_ms, *pair)
    if seen is None:
        return [new]
    for i, old in enumerate(seen):
        if old.experiment == new.experiment:
            if (new.at_ms, new.variant) < (old.at_ms, old.variant):
                seen[i] = new
            return seen
    seen.append(new)  # at most one per allowed experiment
    return seen


def merge(kept: list[Seen] | None, incoming: list[Seen] | None) -> list[Seen] | None:
    """Two sessions become one (identity stitching): each experiment's earliest variant."""
    merged = list(kept or ())
    if not incoming:
        return merged or None
    for s in incoming:
        merged = note(merged, (s.experiment, s.variant), s.at_ms)
    return merged


def count_closed(seen: list[Seen] | None, converted: bool, delta: Delta) -> None:
    """A closed session, for each experiment it saw: a session, and a conversion if it ordered."""
    for s in seen or ():
        delta.count(counter_key(SESSIONS, s.experiment, s.variant))
        if converted:
            delta.count(counter_key(CONVERSIONS, s.experiment, s.variant))


def encode(seen: list[Seen] | None) -> list[Any] | None:
    return None if not seen else [[s.at_ms, s.experiment, s.variant] for s in seen]


def decode(raw: Any) -> list[Seen] | None:
    if not raw:
        return None
    return [Seen(int(at), str(name), str(variant)) for at, name, variant in raw]
