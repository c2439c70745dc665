"""The overview page's "Live experiments" block, in its "Customer experience" section.

Read from the same samples as ``/metrics``, like the rest of the page. The
experiment counters run since each experiment started, not per window, so the
block stands apart from the window switch. The p-value is withheld until every
arm has reached the fixed-horizon sample size: read before, it invites peeking
(README "Live experiments"), so the page cannot show it and the JSON does not
carry it either.
"""

from __future__ import annotations

import math
from typing import Any

from tracker.metrics.samples import Sample, total

SESSIONS = "tracker_experiment_sessions_total"
CONVERSIONS = "tracker_experiment_conversions_total"
RATE = "tracker_experiment_conversion_rate"
P_VALUE = "tracker_experiment_p_value"
SAMPLE_SIZE = "tracker_experiment_sample_size"
CONTROL = "tracker_experiment_control_info"
ALPHA = 0.05  # the level the sample size is computed for (docs/metrics.md#experiments)
# Each figure's definition is its metric's help text in the catalogue.
EXPERIMENT_DEFINITIONS = {
    "experiment_sessions": SESSIONS,
    "experiment_conversions": CONVERSIONS,
    "experiment_conversion_rate": RATE,
    "experiment_sample_size": SAMPLE_SIZE,
    "experiment_p_value": P_VALUE,
}
# The panels of the dashboard's row "Live experiments".
EXPERIMENT_PANELS = {
    "experiment_sample_size": 84,
    "experiment_conversion_rate": 85,
    "experiment_p_value": 86,
}


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _gauge(samples: list[Sample], name: str, **labels: str) -> float | None:
    """One gauge's value, None when it is absent or NaN (the page never shows NaN)."""
    wanted = set(labels.items())
    values = [v for n, lab, v in samples if n == name and wanted <= set(lab)]
    return _finite(values[0]) if values else None


def _arms(samples: list[Sample]) -> dict[str, list[str]]:
    """Each experiment's variants, the control first, then in the order the gauges list them.

    The worker exports the allow-list's order in the conversion-rate gauge and the
    control in ``tracker_experiment_control_info``; counters only name variants with
    sessions, so they come last, for an experiment this worker knows only from them.
    """
    arms: dict[str, list[str]] = {}
    for name in (CONTROL, RATE, SESSIONS, CONVERSIONS):
        for metric, labels, _ in samples:
            as_dict = dict(labels)
            if metric != name or "experiment" not in as_dict or "variant" not in as_dict:
                continue
            variants = arms.setdefault(as_dict["experiment"], [])
            if as_dict["variant"] not in variants:
                variants.append(as_dict["variant"])
    return arms


def _controls(samples: list[Sample]) -> dict[str, str]:
    return {
        dict(lab)["experiment"]: dict(lab)["variant"]
        for n, lab, v in samples
        if n == CONTROL and v == 1 and {"experiment", "variant"} <= dict(lab).keys()
    }


def _row(samples: list[Sample], name: str, variant: str, size: float | None) -> dict[str, Any]:
    at = {"experiment": name, "variant": variant}
    sessions = total(samples, SESSIONS, **at)
    conversions = total(samples, CONVERSIONS, **at)
    return {
        "variant": variant,
        "sessions": sessions,
        "conversions": conversions,
        "conversion_rate": conversions / sessions if sessions else None,
        # Uncapped here: the page caps what it draws and says "reached".
        "progress": sessions / size if size else None,
        "reached": size is not None and sessions >= size,
    }


def experiment(
    samples: list[Sample], name: str, variants: list[str], control: str | None
) -> dict[str, Any]:
    """One experiment's arms, with the p-value of each variant only once all are at the horizon."""
    size = _gauge(samples, SAMPLE_SIZE, experiment=name)
    rows = [_row(samples, name, v, size) for v in variants]
    at_horizon = bool(rows) and all(r["reached"] for r in rows)
    for r in rows:
        if r["variant"] == control:
            r["p_value"], r["p_value_state"] = None, "control"
        elif not at_horizon:
            r["p_value"], r["p_value_state"] = None, "before_horizon"
        else:
            r["p_value"] = _gauge(samples, P_VALUE, experiment=name, variant=r["variant"])
            r["p_value_state"] = "at_horizon" if r["p_value"] is not None else "unavailable"
    tests = sum(1 for v in variants if v != control)
    return {
        "experiment": name,
        "control": control,
        "sample_size": size,
        "at_horizon": at_horizon,
        "sessions": sum(r["sessions"] for r in rows),
        # Several variants against one control are several tests: Bonferroni.
        "alpha": ALPHA / tests if tests else None,
        "variants": rows,
    }


def experiments(samples: list[Sample]) -> list[dict[str, Any]]:
    """Every live experiment this worker exports, in the allow-list's order."""
    controls = _controls(samples)
    out = []
    for name, variants in _arms(samples).items():
        control = controls.get(name)
        ordered = [v for v in variants if v == control] + [v for v in variants if v != control]
        out.append(experiment(samples, name, ordered, control))
    return out
