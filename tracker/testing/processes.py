"""Stopping the child processes that tests and benchmarks start."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def terminate(process: subprocess.Popen[Any] | None, timeout: float = 30) -> None:
    """SIGTERM, so the child can shut down as in production; SIGKILL if it will not."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
