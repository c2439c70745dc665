"""Headless Debian Chromium through Playwright (its own browser downloads are not possible here)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise AssertionError(
            "Chromium is missing: `make test` installs it (scripts/install-system-deps.sh); "
            "browser tests never skip"
        )
    return path


@contextmanager
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page
        finally:
            browser.close()


AXE = Path(__file__).resolve().parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any, tags: tuple[str, ...] = ("wcag2a", "wcag2aa")) -> list[str]:
    """WCAG A/AA violations axe-core finds on the page (colour contrast included).

    axe-core is the npm package pinned in tests/integration/a11y, injected from
    node_modules: no CDN, so the check runs offline.
    """
    if not AXE.exists():
        raise AssertionError(
            f"{AXE} is missing: `make test` installs it (`make browser-deps`); "
            "browser tests never skip"
        )
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.help + ' ' +"
        " v.nodes.map(n => n.target.join(' ') + ' ' + n.failureSummary).join(' | ')))",
        list(tags),
    )
    return list(found)
