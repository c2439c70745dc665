"""Load test of the HTTP collector: a bounded number of 10-event batches over loopback.

The collector runs as its own process (``tracker collector``) pinned to one CPU,
with its real producer writing to the embedded broker; this process is the
client, pinned to the other CPU together with the broker. Prints requests/s,
latency percentiles, and the collector's CPU time per request.

    python -m bench.collector_load --requests 20000 --concurrency 32

Target (issue 6): >= 2,000 requests/s on one core with p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tracker.kafka.broker import BrokerHandle, ensure_topics, free_port, start_embedded

TOPIC = "bench-collector-events"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0 Safari/537.36 (bench)"


def batches(count: int, size: int, customers: int) -> list[bytes]:
    """Request bodies like the snippet's: one customer's events, unique ids."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    kinds = ["page_view", "interaction", "page_ping", "page_view", "interaction"]
    bodies = []
    for n in range(count):
        customer = f"bench-{n % customers}"
        events = []
        for i in range(size):
            kind = kinds[i % len(kinds)]
            event = {
                "schema_version": 1,
                "event_id": str(uuid.uuid4()),
                "event_type": kind,
                "customer_id": customer,
                "occurred_at": now,
                "sent_at": now,
                "channel": "web",
                "touchpoint": "product:trail-runner",
                "consent": {"analytics": True, "marketing": False},
            }
            if kind == "interaction":
                event["action"] = "add_to_cart"
                event["properties"] = {"sku": "trail-runner"}
            events.append(event)
        bodies.append(orjson.dumps(events))
    return bodies


def pin(pid: int, cpu: int) -> None:
    """Pin every thread of a process (a Tokio broker has many) to one CPU."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cpu})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_collector(
    broker: BrokerHandle,
    data_dir: Path,
    cpu: int | None,
    linger_ms: int | None,
    settings: dict[str, str] | None = None,
) -> tuple[Any, str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")},
        "TRACKER_BROKER": broker.url,
        "TRACKER_TOPIC": TOPIC,
        "TRACKER_DATA_DIR": str(data_dir),
        "TRACKER_COLLECTOR_PORT": str(port),
        "TRACKER_COLLECTOR_RATE_LIMIT": "0",  # one client IP sends everything here
        **(settings or {}),
    }
    if linger_ms is not None:
        env["TRACKER_COLLECTOR_LINGER_MS"] = str(linger_ms)
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "collector"],
        env=env,
        stdout=(data_dir / "collector.log").open("ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the collector did not become ready; see {data_dir / 'collector.log'}")


async def drive(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(bodies)
    headers = {"Content-Type": "text/plain", "User-Agent": USER_AGENT}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            for body in queue:
                started = time.perf_counter()
                async with session.post(url + "/v1/events", data=body, headers=headers) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if set(statuses) != {202}:
        raise SystemExit(f"not every request was accepted: {statuses}")
    return elapsed, latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10, help="events per request")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--linger-ms", type=int, default=None, help="default: the setting's")
    parser.add_argument("--collector-cpu", type=int, default=0, help="-1: do not pin")
    parser.add_argument("--client-cpu", type=int, default=1, help="-1: do not pin")
    args = parser.parse_args()
    collector_cpu = None if args.collector_cpu < 0 else args.collector_cpu
    client_cpu = None if args.client_cpu < 0 else args.client_cpu

    work = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    broker = start_embedded(work)
    collector = None
    try:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
            assert broker.process is not None
            pin(broker.process.pid, client_cpu)
        ensure_topics(broker.bootstrap, [(TOPIC, 8, {})])
        collector, url = start_collector(broker, work, collector_cpu, args.linger_ms)
        bodies = batches(args.warmup + args.requests, args.batch, args.customers)
        asyncio.run(drive(url, bodies[: args.warmup], args.concurrency))
        cpu_before = cpu_seconds(collector.pid)
        elapsed, latencies = asyncio.run(drive(url, bodies[args.warmup :], args.concurrency))
        cpu_used = cpu_seconds(collector.pid) - cpu_before
        n = len(latencies)
        print(
            f"collector load test: {n} requests x {args.batch} events, concurrency "
            f"{args.concurrency}, collector on CPU {collector_cpu}, client+broker on CPU "
            f"{client_cpu}"
        )
        print(
            f"  throughput   {n / elapsed:8.0f} requests/s   ({n * args.batch / elapsed:.0f} events/s)"
        )
        print(
            f"  latency      p50 {1000 * percentile(latencies, 0.50):6.2f} ms   "
            f"p99 {1000 * percentile(latencies, 0.99):6.2f} ms   max {1000 * max(latencies):6.2f} ms"
        )
        print(
            f"  collector    {cpu_used:.2f} CPU s = {1e6 * cpu_used / n:.0f} us per request "
            f"(~{n / cpu_used:.0f} requests/s per fully used core)"
        )
    finally:
        if collector is not None:
            collector.terminate()
            collector.wait(timeout=30)
        broker.stop()


if __name__ == "__main__":
    main()
