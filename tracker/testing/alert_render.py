"""The shipped rule files rendered on a faster clock, for tests that cannot wait hours.

Windows (``[3h]``), ``for`` and ``keep_firing_for`` shrink by ``factor`` (60: an
hour becomes a minute). An ``offset`` keeps its whole weeks, which point at the
same moment of past weeks that a test backfills, and shrinks only the rest:
``offset 165h`` (one week less three hours) becomes one week less three minutes.
Everything else, thresholds included, is the one source in deploy/prometheus/rules.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tracker.testing.alert_rules import RULES_DIR, minutes

WEEK_SECONDS = 7 * 86_400
_RANGE = re.compile(r"\[(\w+)(:\w*)?\]")
_OFFSET = re.compile(r"offset (\w+)")


def _format(seconds: float) -> str:
    whole = round(seconds)
    if whole <= 0:
        return "0s"
    hours, rest = divmod(whole, 3600)
    mins, secs = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (mins, "m"), (secs, "s")) if v) or "0s"


def shrink(duration: str, factor: float) -> str:
    return _format(max(minutes(duration) * 60 / factor, 1))


def shrink_offset(duration: str, factor: float) -> str:
    seconds = minutes(duration) * 60
    weeks = round(seconds / WEEK_SECONDS)
    return _format(weeks * WEEK_SECONDS + (seconds - weeks * WEEK_SECONDS) / factor)


def scale_expr(expr: str, factor: float) -> str:
    expr = _RANGE.sub(lambda m: f"[{shrink(m[1], factor)}{m[2] or ''}]", expr)
    return _OFFSET.sub(lambda m: f"offset {shrink_offset(m[1], factor)}", expr)


def scale_rule(rule: dict[str, Any], factor: float) -> dict[str, Any]:
    out = dict(rule, expr=scale_expr(str(rule["expr"]), factor))
    for key in ("for", "keep_firing_for"):
        if key in rule:
            out[key] = shrink(str(rule[key]), factor) if minutes(str(rule[key])) else "0s"
    return out


def render_scaled(outdir: Path, factor: float, rules_dir: Path = RULES_DIR) -> list[Path]:
    """Every rule file of ``rules_dir`` rendered into ``outdir`` with windows / ``factor``."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(rules_dir.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            group["rules"] = [scale_rule(rule, factor) for rule in group["rules"]]
        target = outdir / path.name
        target.write_text(yaml.safe_dump(document, sort_keys=False, width=120), encoding="utf-8")
        written.append(target)
    return written
