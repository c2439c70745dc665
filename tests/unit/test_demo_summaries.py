"""`make demo`'s summary loop: a worker slow to answer once must not stop the demo."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tracker import demo

BODY = b'tracker_events_total{channel="web",partition="0"} 7.0\n'


class _FirstSlow(BaseHTTPRequestHandler):
    """Answers the first request too late for the reader's timeout, then at once."""

    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            time.sleep(0.6)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def slow_once() -> Iterator[str]:
    _FirstSlow.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FirstSlow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_a_timed_out_read_is_said_and_the_next_one_counts(
    slow_once: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo._read_metrics(slow_once, timeout=0.2) is None
    assert "no answer from" in capsys.readouterr().out
    samples = demo._read_metrics(slow_once, timeout=2)
    assert samples is not None
    assert samples[0][2] == 7.0


def test_a_refused_read_is_said_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo._read_metrics("http://127.0.0.1:9/metrics", timeout=1) is None
    assert "asking again" in capsys.readouterr().out


def test_the_summary_loop_goes_on_after_a_read_fails(
    slow_once: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "_read_metrics", functools.partial(demo._read_metrics, timeout=0.2))
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    stop = threading.Event()
    loop = threading.Thread(target=demo._summaries, args=(slow_once, worker, stop, None, 0.05))
    try:
        loop.start()
        deadline = time.monotonic() + 10
        while "touchpoint tracker" not in capsys.readouterr().out:
            assert time.monotonic() < deadline, "no summary after the failed read"
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(5)
        worker.kill()
        worker.wait()
    assert not loop.is_alive()
    assert _FirstSlow.calls >= 2
