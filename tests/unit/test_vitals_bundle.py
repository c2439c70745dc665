"""The web-vitals bundle in tracker.js is what the pinned build makes, with its licence.

``make vitals-bundle`` (npm + esbuild, pinned in scripts/vitals/package-lock.json)
writes it; the bundle is committed, so the collector needs no Node. This test
rebuilds it and compares.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tracker.collector.static import SNIPPET, STATIC

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "vitals"
NODE, NPM = shutil.which("node"), shutil.which("npm")


def _pins() -> dict[str, str]:
    pins: dict[str, str] = json.loads((BUILD / "package.json").read_text())["dependencies"]
    return pins


def test_the_build_is_pinned_exactly() -> None:
    lock = json.loads((BUILD / "package-lock.json").read_text())["packages"]
    for name, version in _pins().items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version}: pin one version"
        assert lock[f"node_modules/{name}"]["version"] == version
        assert lock[f"node_modules/{name}"]["integrity"].startswith("sha512-")


def test_the_bundle_names_its_version_and_licence_which_ships_beside_it() -> None:
    text = SNIPPET.read_text()
    version = _pins()["web-vitals"]
    assert f"/*! web-vitals {version} (c) Google LLC, Apache-2.0" in text
    licence = (STATIC / "web-vitals.LICENSE.txt").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    begin, end = text.index("// web-vitals:begin"), text.index("// web-vitals:end")
    assert "var webVitals=" in text[begin:end]  # a variable of tracker.js's function, no global


@pytest.mark.skipif(NODE is None or NPM is None, reason="node and npm build the bundle")
def test_a_fresh_build_gives_the_committed_bundle() -> None:
    if not (BUILD / "node_modules" / "web-vitals").is_dir():
        subprocess.run(
            [str(NPM), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=BUILD,
            check=True,
            timeout=300,
        )
    installed = json.loads((BUILD / "node_modules" / "web-vitals" / "package.json").read_text())
    assert installed["version"] == _pins()["web-vitals"]
    shipped = (BUILD / "node_modules" / "web-vitals" / "LICENSE").read_text()
    assert (STATIC / "web-vitals.LICENSE.txt").read_text() == shipped
    done = subprocess.run(
        [str(NODE), str(BUILD / "build.mjs"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
