"""`make demo`'s summary loop: a worker slow to answer once must not stop the demo."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tracker import demo

BODY = b'tracker_events_total{channel="web",partition="0"} 7.0\n'


class _HangsUpFirst(ThreadingHTTPServer):
    """Closes the first connection without an answer (a worker cut off), then answers."""

    calls = 0


class _Handler(BaseHTTPRequestHandler):
    server: _HangsUpFirst

    def do_GET(self) -> None:
        self.server.calls += 1
        if self.server.calls == 1:
            self.close_connection = True
            return  # no status line: the client reads RemoteDisconnected
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def hangs_up_first() -> Iterator[tuple[str, _HangsUpFirst]]:
    server = _HangsUpFirst(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics", server
    finally:
        server.shutdown()
        server.server_close()


def test_a_read_that_times_out_is_said_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    # A socket that listens and never accepts: the connection is made, no answer comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/metrics"
        assert demo._read_metrics(url, timeout=0.2) is None
    assert "no answer from" in capsys.readouterr().out


def test_a_refused_or_cut_off_read_is_said_then_the_next_one_counts(
    hangs_up_first: tuple[str, _HangsUpFirst], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    assert demo._read_metrics(f"http://127.0.0.1:{closed_port}/metrics", timeout=1) is None
    url, _server = hangs_up_first
    assert demo._read_metrics(url, timeout=5) is None
    assert capsys.readouterr().out.count("asking again") == 2
    samples = demo._read_metrics(url, timeout=5)
    assert samples is not None
    assert samples[0][2] == 7.0


def test_the_summary_loop_goes_on_after_a_read_fails(
    hangs_up_first: tuple[str, _HangsUpFirst], capsys: pytest.CaptureFixture[str]
) -> None:
    url, server = hangs_up_first
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    stop = threading.Event()
    loop = threading.Thread(target=demo._summaries, args=(url, worker, stop, None, 0.05))
    output = ""
    try:
        loop.start()
        deadline = time.monotonic() + 10
        while "touchpoint tracker" not in output:
            assert time.monotonic() < deadline, f"no summary after the failed read: {output!r}"
            time.sleep(0.05)
            output += capsys.readouterr().out
    finally:
        stop.set()
        loop.join(5)
        worker.kill()
        worker.wait()
    assert not loop.is_alive()
    assert server.calls >= 2
    assert output.index("no answer from") < output.index("touchpoint tracker")
