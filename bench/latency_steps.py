"""Step (c) of ``make bench`` and the soak: live streams.

Produce-to-``/metrics`` latency at half the measured maximum rate on a live 1-event
stream (with short timings, so the idle rule closes the last sessions within the run)
and on 100-event batches; the soak watches resident memory under steady load at 70% of
what a worker drains of its own traffic (``bench.soak``).
"""

from __future__ import annotations

import functools

from bench import latency, soak
from bench.flame import categorize
from bench.plan import LIVE_SETTINGS, SEED, Context, log
from bench.procs import BenchError
from bench.streams import paced, regroup, steady_stream
from bench.throughput import FAUST_FETCH_WAIT, FAUST_FETCH_WAIT_LABEL
from bench.throughput_steps import line
from tracker.testing.traffic import Message


def latencies(ctx: Context, maxima: dict[str, float]) -> None:
    try:
        _one_event(ctx, maxima["1 event"] / 2)
        rate = maxima["100 events"] / 2
        seconds = ctx.sizes.latency_seconds / 2
        ctx.rep.latency.append(
            latency.run(
                ctx.bench,
                "100 events",
                functools.partial(steady, SEED + 2, rate, seconds, 100),
                rate,
                {},
                live=False,
            )
        )
        log(
            f"latency 100 events: p50 {ctx.rep.latency[-1].p50_ms:.0f} ms, p99 {ctx.rep.latency[-1].p99_ms:.0f} ms"
        )
    except BenchError as exc:
        ctx.rep.notes.append(f"latency: {exc}")
        log(f"latency failed: {exc}")


def _one_event(ctx: Context, rate: float) -> None:
    """The live 1-event stream, under py-spy with --profile; and with Faust's fetch wait."""
    seconds = ctx.sizes.latency_seconds
    spy = ctx.profiles / "latency-1.txt" if ctx.profiles is not None else None
    ctx.rep.latency.append(
        latency.run(
            ctx.bench,
            "1 event",
            functools.partial(steady, SEED + 1, rate, seconds, 1),
            rate,
            LIVE_SETTINGS,
            live=True,
            profile=spy,
        )
    )
    if spy is not None and spy.exists():
        ctx.rep.profiles["tracker worker, live 1-event stream"] = categorize(spy)
    log(
        f"latency 1 event: p50 {ctx.rep.latency[-1].p50_ms:.0f} ms, p99 {ctx.rep.latency[-1].p99_ms:.0f} ms"
    )
    if ctx.wanted("experiments"):
        ctx.rep.latency.append(
            latency.run(
                ctx.bench,
                f"1 event, {FAUST_FETCH_WAIT_LABEL}",
                functools.partial(steady, SEED + 1, rate, seconds, 1),
                rate,
                {**LIVE_SETTINGS, **FAUST_FETCH_WAIT},
                live=True,
            )
        )


def soaked(ctx: Context, minutes: float, share: float = soak.SHARE, traced: int = 0) -> None:
    ctx.rep.soak = soak.run(ctx.bench, minutes, share, traced)
    done = ctx.rep.soak
    if done.maximum is not None:
        log(line(done.maximum))
    log(
        f"soak: {done.rate:,.0f} events/s asked ({done.share:.0%} of the drain above), "
        f"{done.delivered_rate:,.0f} delivered ({done.applied:,} of {done.events:,} applied "
        "when the producer stopped) from "
        f"{done.population:,} customers, worker {done.cores:.2f} cores; RSS MiB "
        + " / ".join(f"{done.rss_at(done.minutes * 60 * f):.0f}" for f in (0.1, 0.25, 0.5, 0.75, 1))
        + f"; growth over the second half {done.growth_mib:.1f} MiB ("
        + ", ".join(f"{kind} {mib:+.1f}" for kind, mib in sorted(done.kind_growth_mib().items()))
        + ")"
    )


def steady(seed: int, rate: float, seconds: float, batch: int, start_ms: int) -> list[Message]:
    """``seconds`` of ``batch``-event messages offered at ``rate`` events/s."""
    if batch == 1:
        return steady_stream(seed, rate, seconds, start_ms)
    return paced(regroup(steady_stream(seed, rate, seconds, start_ms), batch), rate)
