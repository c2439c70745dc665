"""A real Prometheus (Debian's package) started by the tests on a free local port."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.support import daemon
from tracker.kafka.broker import free_port


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(
            f"{name} is missing: `make test` installs Debian's prometheus package "
            "(scripts/install-system-deps.sh); these tests never skip"
        )
    return path


class Prometheus:
    def __init__(
        self,
        workdir: Path,
        jobs: dict[str, Sequence[str]],
        rule_files: Iterable[Path] = (),
        interval: str = "1s",
        alertmanagers: Sequence[str] = (),
        extra_args: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.data = workdir / "tsdb"
        self.data.mkdir(parents=True, exist_ok=True)
        rules = []
        for source in rule_files:
            copy = workdir / source.name
            shutil.copy(source, copy)
            rules.append(str(copy))
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": rules,
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(targets)}]}
                for job, targets in jobs.items()
            ],
        }
        if alertmanagers:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
            }
        self.extra_args = list(extra_args)
        self.config = workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen[bytes] | None = None

    def backfill(self, openmetrics: str) -> None:
        """Historical samples (e.g. a week ago, for `offset 1w`) written as TSDB blocks."""
        source = self.workdir / "backfill.om"
        source.write_text(openmetrics)
        subprocess.run(
            [
                binary("promtool"),
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(source),
                str(self.data),
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> Prometheus:
        self.process = daemon.spawn_ready(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=30d",
                *self.extra_args,
            ],
            self.workdir / "prometheus.log",
            self.url,
            timeout=60,
        )
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, expr: str) -> dict[str, Any]:
        """The HTTP API's answer to an instant query (raises on a parse error)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body: dict[str, Any] = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        if body.get("status") != "success":
            raise AssertionError(f"{expr!r}: {body.get('errorType')}: {body.get('error')}")
        return body

    def rules(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/rules", timeout=10) as r:
            groups: list[dict[str, Any]] = json.loads(r.read())["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def stop(self) -> None:
        daemon.stop(self.process)
        self.process = None

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
