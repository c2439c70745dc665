"""A third-party server the tests start (Prometheus, Alertmanager): spawned, ready, stopped.

Both answer ``/-/ready`` once they serve; the tests wait for that instead of sleeping,
and a server that exits early points at its log.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path


def spawn_ready(
    name: str, argv: Sequence[str], log_path: Path, base_url: str, timeout: float
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output in ``log_path``; return once ``/-/ready`` says 200."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited: see {log_path}")
        try:
            with urllib.request.urlopen(f"{base_url}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return process
        except OSError:
            pass
        time.sleep(0.2)
    stop(process)
    raise AssertionError(f"{name} did not become ready in {timeout:.0f}s: see {log_path}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate, and kill what does not exit within 20 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
