"""Zero-setup paths: the recorded local broker is shared, and the demo moves its KPIs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.golden import GOLDEN_STREAM
from tracker.kafka.broker import free_port
from tracker.testing.deployment import PSEUDONYM_KEY, wait_until


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update({"TRACKER_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _hear_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_commands_reuse_the_broker_recorded_in_the_data_dir(tmp_path: Path) -> None:
    env = _env(tmp_path / "data", TRACKER_PSEUDONYM_KEY=PSEUDONYM_KEY)
    broker = subprocess.Popen(
        [sys.executable, "-m", "tracker", "broker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C as a terminal sends it, even when pytest itself was started in the
        # background by a shell without job control, which makes children ignore SIGINT.
        preexec_fn=_hear_sigint,
    )
    record = tmp_path / "data" / "broker.json"
    try:
        wait_until(record.exists, 30, "the broker to record itself")
        recorded = json.loads(record.read_text())
        replay = subprocess.run(
            [sys.executable, "-m", "tracker", "replay", str(GOLDEN_STREAM)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert recorded["bootstrap"] in replay.stdout, "replay used the recorded broker"
        assert json.loads(record.read_text())["pid"] == recorded["pid"], "no second broker"
    finally:
        broker.send_signal(signal.SIGINT)
        broker.wait(timeout=30)
    assert not record.exists(), "the owner removes its record on exit"
    assert not _alive(recorded["pid"]), "the broker process is stopped with its owner"


def test_demo_shows_moving_kpis_within_a_minute_and_cleans_up(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    env = _env(
        data,
        TRACKER_WEB_PORT=str(free_port()),
        TRACKER_COLLECTOR_PORT=str(free_port()),
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "tracker", "demo", "--rate", "40"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    counts: list[int] = []
    output: list[str] = []
    started = time.monotonic()
    assert demo.stdout is not None
    try:
        while time.monotonic() - started < 60 and len({c for c in counts if c > 0}) < 2:
            line = demo.stdout.readline()
            if not line:
                break
            output.append(line)
            match = re.match(r"events\s+(\d+)", line)
            if match:
                counts.append(int(match.group(1)))
    finally:
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=60)
        output.append(rest)
    text = "".join(output)
    assert "/metrics" in text, "the demo prints where the metrics are"
    assert "ephemeral pseudonym key" in text, "the demo says its key is ephemeral"
    assert len({c for c in counts if c > 0}) >= 2 and counts == sorted(counts), (
        f"KPIs move within 60 s: {counts}\n{text[-2000:]}"
    )
    assert demo.returncode is not None
    assert not (data / "broker.json").exists(), "the demo stops the broker it started"
