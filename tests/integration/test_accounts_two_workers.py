"""B2B account figures are exact with two workers: the account stage is keyed by account."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.conftest import settled
from tracker.metrics.samples import Sample, total
from tracker.testing.deployment import PSEUDONYM_KEY, Deployment, wait_until
from tracker.testing.streams import expected_samples, generated_messages, produce


def _account_figures(samples: list[Sample]) -> dict[str, float]:
    figures = {
        "reach_28d": total(samples, "tracker_account_reach", window="28d"),
        "converted_28d": total(samples, "tracker_account_converted_window", window="28d"),
    }
    for le in ("1", "2", "3", "5", "10", "20", "50", "+Inf"):
        figures[f"people_le_{le}"] = total(
            samples, "tracker_accounts_by_people", window="28d", people_le=le
        )
    for channels in range(1, 8):
        figures[f"first_order_channels_{channels}"] = total(
            samples, "tracker_account_first_order_channels_total", channels=str(channels)
        )
    return figures


def test_account_figures_exact_across_two_workers(
    deployment_factory: Callable[..., Deployment],
) -> None:
    messages = generated_messages(seed=5, events=3000, batch=1)
    expected = _account_figures(expected_samples(messages, 4, PSEUDONYM_KEY, idle_timeout=10**9))
    assert expected["reach_28d"] >= 10, "the stream has B2B accounts"
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    workers = [deployment.worker().start(), deployment.worker().start()]
    wait_until(lambda: settled(workers, 4), 90, "two workers sharing the partitions")
    produce(deployment.broker.bootstrap, deployment.env["TRACKER_TOPIC"], messages)

    def summed() -> dict[str, float]:
        per_worker = [_account_figures(w.samples()) for w in workers]
        return {k: sum(f[k] for f in per_worker) for k in expected}

    wait_until(lambda: summed() == expected, 90, f"account figures {expected}")
    for worker in workers:
        assert total(worker.samples(), "tracker_account_reach", window="28d") > 0, (
            "both workers own part of the account stage"
        )
