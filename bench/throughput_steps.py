"""Steps (a), (b) and (e) of ``make bench``: the limits, the tracker worker, and scaling.

Every tracker row is checked against the counts the pure reference expects;
the experiment rows run the same streams with one setting changed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from bench import report, throughput
from bench.expect import expect
from bench.flame import categorize
from bench.plan import PARTITIONS, Context, log, topic_of
from bench.procs import BenchError
from bench.streams import Variant, without_accounts
from bench.throughput import FAUST_FETCH_WAIT, FAUST_FETCH_WAIT_LABEL


def limits_and_tracker(ctx: Context) -> dict[str, float]:
    """For each message shape: the limits, then the tracker; returns its events/s by shape."""
    maxima: dict[str, float] = {}
    for variant in ctx.streams.variants:
        if ctx.wanted("limits"):
            _limits(ctx, variant)
        result = _tracker(ctx, variant)
        maxima[variant.name] = result.events_per_s
        if ctx.wanted("experiments"):
            add(
                ctx.rep,
                throughput.tracker(
                    ctx.bench,
                    variant,
                    ctx.streams.topics[variant.name],
                    ctx.streams.expectations[variant.name],
                    settings=FAUST_FETCH_WAIT,
                    name=f"tracker worker, {FAUST_FETCH_WAIT_LABEL}",
                ),
            )
    return maxima


def _limits(ctx: Context, variant: Variant) -> None:
    """Raw aiokafka reads and no-op Faust agents on the same messages, repeated."""
    bench, rep = ctx.bench, ctx.rep
    limit_topic, repeated = ctx.streams.limit_topics[variant.name]
    add(rep, throughput.raw_read(bench, repeated, limit_topic))
    add(
        rep,
        median_of(ctx.repeat, functools.partial(throughput.noop, bench, repeated, limit_topic)),
    )
    add(rep, throughput.noop(bench, repeated, limit_topic, faust_fetch=True))
    add(rep, throughput.noop(bench, repeated, limit_topic, eager=True))
    if variant.batch == 1:
        add(rep, throughput.noop(bench, repeated, limit_topic, changelog="table"))
        add(rep, throughput.noop(bench, repeated, limit_topic, changelog="direct"))
        # The ceiling of one record per message where the tracker runs: its hand-over, and
        # since 2026-12-07 its records appended to the producer's batch.
        add(rep, throughput.noop(bench, repeated, limit_topic, changelog="table", eager=True))
        add(rep, throughput.noop(bench, repeated, limit_topic, changelog="appended", eager=True))


def _tracker(ctx: Context, variant: Variant) -> throughput.Result:
    spy = ctx.profiles / f"tracker-{variant.batch}.txt" if ctx.profiles is not None else None
    result = median_of(
        ctx.repeat,
        functools.partial(
            throughput.tracker,
            ctx.bench,
            variant,
            ctx.streams.topics[variant.name],
            ctx.streams.expectations[variant.name],
            profile=spy,
        ),
    )
    if spy is not None and spy.exists():
        result.notes.append(f"{variant.name}: measured under py-spy (100 Hz)")
        ctx.rep.profiles[f"tracker worker, {variant.name} per message"] = categorize(spy)
    add(ctx.rep, result)
    return result


def without_accounts_experiment(ctx: Context) -> None:
    """The largest batches once more, with every account_id removed."""
    batched = ctx.streams.variants[-1]
    plain = Variant(batched.name, batched.batch, without_accounts(batched.messages))
    env = ctx.bench.env("-", "-", 0, ctx.bench.root)
    add(
        ctx.rep,
        throughput.tracker(
            ctx.bench,
            plain,
            topic_of(ctx.bootstrap, f"bench-noaccounts-{ctx.streams.now_ms}", plain),
            expect(plain.messages, env, PARTITIONS),
            name="tracker worker, events without account_id (experiment)",
        ),
    )


def scaling(ctx: Context) -> None:
    """One worker against two on the largest batches (and the same with Faust's fetch wait)."""
    rep, batched = ctx.rep, ctx.streams.variants[-1]
    topic, expectation = ctx.streams.topics[batched.name], ctx.streams.expectations[batched.name]
    one = next(
        r for r in rep.throughput if r.name == "tracker worker" and r.variant == batched.name
    )
    rep.scaling.append(one)
    try:
        two = throughput.tracker(ctx.bench, batched, topic, expectation, workers=2)
        rep.scaling.append(two)
        log(line(two))
        faust_wait = f"tracker worker, {FAUST_FETCH_WAIT_LABEL}"
        if ctx.wanted("experiments"):
            rep.scaling += [
                r for r in rep.throughput if r.name == faust_wait and r.variant == batched.name
            ]
            two = throughput.tracker(
                ctx.bench,
                batched,
                topic,
                expectation,
                workers=2,
                settings=FAUST_FETCH_WAIT,
                name=faust_wait,
            )
            rep.scaling.append(two)
            log(line(two))
    except BenchError as exc:
        rep.notes.append(f"two workers: {exc}")
        log(f"two workers failed: {exc}")


def add(rep: report.Report, result: throughput.Result) -> None:
    rep.throughput.append(result)
    log(line(result))


def median_of(times: int, run: Callable[[], throughput.Result]) -> throughput.Result:
    """The median of ``times`` runs, noting the range of events/s."""
    results = sorted((run() for _ in range(times)), key=lambda r: r.events_per_s)
    middle = results[len(results) // 2]
    if times > 1:
        low, high = results[0].events_per_s, results[-1].events_per_s
        middle.spread = (low, high)
        middle.correct = (
            all(r.correct is not False for r in results) if middle.correct is not None else None
        )
    return middle


def line(r: throughput.Result) -> str:
    extra = f", counts exact: {r.correct}" if r.correct is not None else ""
    return (
        f"{r.name} ({r.variant}, {r.workers} worker(s)): {r.events_per_s:,.0f} events/s, "
        f"{r.messages_per_s:,.0f} msg/s, {r.cores or 0:.2f} cores{extra}"
    )
