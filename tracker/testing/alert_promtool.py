"""``promtool test rules`` over simulated series: the check that the mirror is the rules.

A generated test file feeds the counters to the shipped rule files and asks,
at every evaluation step, for no alert. promtool reports each step where the
alert fires as a failure; those steps are the firing times, compared with the
ones ``tracker.testing.alert_rules`` computes from the same series.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import yaml

from tracker.testing.alert_rules import RULES_DIR, minutes

_FAILED_AT = re.compile(r"alertname: (\w+), time: (\w+),")
_ORDER = (
    "tracker-alert-thresholds",
    "tracker-session-rates",
    "tracker-session-baselines",
    "tracker-conversion-evidence",
    "tracker-conversion-deficit",
    "tracker-traffic-evidence",
    "tracker-consent-evidence",
)


def _duration(total_minutes: int) -> str:
    return f"{total_minutes}m"


def group_order(rules_dir: Path = RULES_DIR) -> list[str]:
    """Every group of the rule files, thresholds and evidence first, alerts last."""
    names = [
        group["name"]
        for path in sorted(rules_dir.glob("*.yml"))
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    ]
    first = [name for name in _ORDER if name in names]
    alerts = [name for name in names if name.endswith("-alerts")]
    middle = [name for name in names if name not in first and name not in alerts]
    return first + middle + alerts


def test_file(
    series: dict[str, Sequence[float]], step: int, alertname: str, checks: range
) -> dict[str, object]:
    """A promtool test document: ``series`` (name{labels} -> samples every ``step`` minutes),
    expecting no ``alertname`` at the sample indices in ``checks``."""
    return {
        "rule_files": [str(path) for path in sorted(RULES_DIR.glob("*.yml"))],
        "evaluation_interval": f"{step}m",
        "group_eval_order": group_order(),
        "tests": [
            {
                "interval": f"{step}m",
                "input_series": [
                    {"series": name, "values": " ".join(f"{v:g}" for v in values)}
                    for name, values in series.items()
                ],
                "alert_rule_test": [
                    {"eval_time": _duration(index * step), "alertname": alertname}
                    for index in checks
                ],
            }
        ],
    }


def firing_indices(
    workdir: Path,
    series: dict[str, Sequence[float]],
    step: int,
    alertname: str,
    checks: range,
) -> set[int]:
    """Sample indices in ``checks`` at which promtool finds ``alertname`` firing."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise AssertionError("promtool is missing: bash scripts/install-system-deps.sh")
    path = workdir / f"{alertname}.test.yml"
    path.write_text(yaml.safe_dump(test_file(series, step, alertname, checks), width=1 << 30))
    done = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0 and "FAILED:" not in output:
        raise AssertionError(f"promtool failed to run the test:\n{output[-3000:]}")
    return {
        int(minutes(at) // step) for name, at in _FAILED_AT.findall(output) if name == alertname
    }
