"""``tracker demo``: broker, worker, traffic and a live one-screen KPI summary."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tracker.kafka.broker import free_port, resolve
from tracker.metrics.samples import Sample, parse_exposition, total
from tracker.settings import Settings, load_settings
from tracker.testing.loadgen import run_loadgen

# Demo journeys are compressed in time, so sessions end after a minute, not 30.
DEMO_DEFAULTS = {"TRACKER_SESSION_GAP": "30", "TRACKER_IDLE_TIMEOUT": "10"}
TIME_SCALE = 0.3


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # run the same clean shutdown as Ctrl-C


def run_demo(rate: float) -> None:
    signal.signal(signal.SIGTERM, _terminate)
    for name, value in DEMO_DEFAULTS.items():
        os.environ.setdefault(name, value)
    settings = load_settings()
    handle = resolve(settings)
    env = dict(os.environ)
    env["TRACKER_BROKER"] = handle.url
    if not settings.resolved_pseudonym_key():
        env["TRACKER_PSEUDONYM_KEY"] = secrets.token_hex(32)
        print("demo: using an ephemeral pseudonym key (state is not meant to outlive the demo)")
    port = settings.web_port or free_port()
    env["TRACKER_WEB_PORT"] = str(port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "demo-worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "tracker", "worker"],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    collector, shop_url = _start_collector(settings, env)
    stop = threading.Event()
    traffic = threading.Thread(
        target=_traffic, args=(settings, handle.bootstrap, rate, stop), daemon=True
    )
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    print(f"broker   {handle.url}")
    print(f"metrics  {metrics_url}")
    print(f"logs     {log_path}")
    print(f"shop     {shop_url}  (the demo shop: click through it and watch the KPIs move)")
    try:
        _wait_ready(port, worker, log_path)
        traffic.start()
        _summaries(metrics_url, worker, stop, shop_url)
    except KeyboardInterrupt:
        print("\nstopping…")
    finally:
        stop.set()
        collector.terminate()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        try:
            collector.wait(timeout=10)
        except subprocess.TimeoutExpired:
            collector.kill()
        handle.stop()


def _start_collector(
    settings: Settings, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """The HTTP collector serving the demo shop, next to the worker (same broker)."""
    port = settings.collector_port if _port_free(settings.collector_port) else free_port()
    log_path = settings.data_dir / "demo-collector.log"
    collector = subprocess.Popen(
        [sys.executable, "-m", "tracker", "collector"],
        env={**env, "TRACKER_COLLECTOR_PORT": str(port), "TRACKER_COLLECTOR_DEMO": "true"},
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return collector, f"http://127.0.0.1:{port}/demo/"


def _port_free(port: int) -> bool:
    # A busy default port (another demo, another service) must not cost the shop.
    with socket.socket() as sock:
        return port != 0 and sock.connect_ex(("127.0.0.1", port)) != 0


def _traffic(settings: object, bootstrap: str, rate: float, stop: threading.Event) -> None:
    from tracker.settings import Settings

    assert isinstance(settings, Settings)
    run_loadgen(settings, bootstrap, rate, None, batch=1, time_scale=TIME_SCALE, stop=stop)


def _wait_ready(port: int, worker: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the worker did not become ready; see {log_path}")


def _summaries(
    url: str,
    worker: subprocess.Popen[bytes],
    stop: threading.Event,
    shop: str | None = None,
    interval: float = 3.0,
) -> None:
    previous: float | None = None
    last = time.monotonic()
    while not stop.is_set():
        time.sleep(interval)
        if worker.poll() is not None:
            raise SystemExit("the worker exited")
        samples = _read_metrics(url)
        if samples is None:
            continue
        events = total(samples, "tracker_events_total")
        now = time.monotonic()
        rate = (events - previous) / (now - last) if previous is not None else 0.0
        previous, last = events, now
        screen = render_summary(samples, rate, url, shop)
        if sys.stdout.isatty():
            sys.stdout.write("\x1b[2J\x1b[H")
        print(screen, flush=True)


def _read_metrics(url: str, timeout: float = 10.0) -> list[Sample] | None:
    """The worker's samples, or None (said on screen) when it did not answer in time.

    A busy worker (a backlog, a rebalance, a laptop on battery) can be slow to answer
    once; the demo then says so and asks again rather than stopping the broker and worker.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return parse_exposition(response.read().decode())
    # Refused, reset, timed out (URLError, TimeoutError), cut short or an error status.
    except (OSError, http.client.HTTPException) as exc:
        print(f"metrics: no answer from {url} ({exc}); asking again", flush=True)
        return None


def _pct(value: float) -> str:
    return "  n/a" if value != value else f"{100 * value:5.1f}%"


def render_summary(s: list[Sample], rate: float, url: str, shop: str | None = None) -> str:
    def t(name: str, **labels: str) -> float:
        return total(s, name, **labels)

    w = "24h"
    revenue = ", ".join(
        f"{cur} {t('tracker_revenue_total', currency=cur):,.2f}"
        for cur in sorted(
            {dict(lab).get("currency", "") for n, lab, _ in s if n == "tracker_revenue_total"}
        )
    )
    transitions = sorted(
        ((v, dict(lab)) for n, lab, v in s if n == "tracker_journey_transitions_total"),
        key=lambda x: -x[0],
    )
    top: dict[str, float] = {}
    for value, labels in transitions:
        step = f"{labels['from_touchpoint']} → {labels['to_touchpoint']}"
        top[step] = top.get(step, 0) + value
    journeys = "  ".join(f"{k} ({int(v)})" for k, v in sorted(top.items(), key=lambda x: -x[1])[:4])
    lines = [
        "touchpoint tracker — live demo" + " " * 20 + time.strftime("%H:%M:%S"),
        "",
        f"events       {int(t('tracker_events_total')):>9}   ({rate:6.1f}/s)",
        f"reach        1h {int(t('tracker_reach', window='1h', channel='all')):>6}"
        f"   24h {int(t('tracker_reach', window='24h', channel='all')):>6}",
        f"sessions     active {int(t('tracker_sessions_active')):>5}   started"
        f" {int(t('tracker_sessions_started_total')):>6}   closed {int(t('tracker_sessions_closed_total')):>6}",
        f"identity     linked {int(t('tracker_identity_links_total')):>5}   sessions merged"
        f" {int(t('tracker_sessions_merged_total')):>5}   events forwarded"
        f" {int(t('tracker_events_forwarded_total')):>5}",
        f"rates ({w})  bounce {_pct(t('tracker_bounce_rate', window=w, channel='all'))}   conversion"
        f" {_pct(t('tracker_conversion_rate', window=w, channel='all'))}   interaction {_pct(t('tracker_interaction_rate', window=w, channel='all'))}",
        f"orders       {int(t('tracker_orders_total')):>9}   revenue {revenue or '-'}",
        f"feedback     NPS {t('tracker_nps', window=w):6.1f}   CSAT {_pct(t('tracker_csat', window=w))}"
        f"   CES {t('tracker_ces', window=w):4.2f}",
        f"sentiment    + {int(t('tracker_feedback_sentiment_total', polarity='positive'))}"
        f"  = {int(t('tracker_feedback_sentiment_total', polarity='neutral'))}"
        f"  - {int(t('tracker_feedback_sentiment_total', polarity='negative'))}",
        f"top journeys {journeys or '-'}",
        f"quality      rejected {int(t('tracker_events_rejected_total'))}   dropped(no consent)"
        f" {int(t('tracker_events_dropped_total', reason='no_consent'))}   duplicates"
        f" {int(t('tracker_events_dropped_total', reason='duplicate'))}   late {int(t('tracker_events_late_total'))}"
        f"   erasures {int(t('tracker_erasures_total'))}",
        f"bots         dropped {int(t('tracker_events_dropped_total', reason='bot'))}"
        f"   crawler list {int(t('tracker_bot_events_total', rule='crawler_list'))}"
        f"   headless {int(t('tracker_bot_events_total', rule='headless'))}"
        f"   no user agent {int(t('tracker_bot_events_total', rule='no_user_agent'))}",
        "",
        f"metrics: {url}      Ctrl-C stops broker, worker and traffic",
    ]
    if shop:
        lines.append(f"shop:    {shop}   browse, buy, give feedback: it all counts here")
    return "\n".join(lines)
