"""Refresh the README's pictures from the demo: `make readme-pictures`.

docs/overview-page.png is the worker's overview page, docs/overview-experience.png
its "Customer experience" section alone, docs/overview-experiments.png that
section's "Live experiments" block, and docs/demo-shop.png the collector's demo shop, all taken with headless Chromium as the browser tests drive it. With
--url the pictures come from a demo that is already running (`make demo`);
without it a demo is started in a temporary directory, given time to fill every
card, and stopped.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from tests.integration.browser import browser_page
from tracker.testing.demo_process import running_demo

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _filled(page: dict[str, Any]) -> bool:
    day = page["by_window"]["24h"]
    return (
        day["totals"]["sessions"] >= 40
        and day["totals"]["orders"] >= 3
        and all(step["sessions"] > 0 for step in day["funnel"])
        and bool(page["since_start"]["journeys"])
        # The experience section: page loads measured and a support ticket answered.
        and page["experience"]["load_times"]["all"] is not None
        and page["experience"]["support"]["all"]["first_response_p90"] is not None
        # Live experiments: every arm has sessions and the control a conversion (a horizon).
        and any(
            x["sample_size"] is not None and all(r["sessions"] for r in x["variants"])
            for x in page["experience"]["experiments"]
        )
    )


def shoot(overview_url: str, shop_url: str | None) -> None:
    with browser_page() as page:
        page.goto(overview_url)
        page.wait_for_selector("body[data-loaded='1']", timeout=30_000)
        page.wait_for_timeout(3500)  # a second refresh: sparklines have two points
        page.screenshot(path=str(DOCS / "overview-page.png"), full_page=True)
        print(f"wrote {DOCS / 'overview-page.png'}")
        page.locator("#experience").screenshot(path=str(DOCS / "overview-experience.png"))
        print(f"wrote {DOCS / 'overview-experience.png'}")
        page.locator("#exp-experiments").screenshot(path=str(DOCS / "overview-experiments.png"))
        print(f"wrote {DOCS / 'overview-experiments.png'}")
        if shop_url:
            page.goto(shop_url)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(DOCS / "demo-shop.png"))
            print(f"wrote {DOCS / 'demo-shop.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="overview page of a running demo (http://127.0.0.1:6066/)")
    parser.add_argument("--shop", help="its demo shop (http://127.0.0.1:8088/demo/)")
    args = parser.parse_args()
    if args.url:
        shoot(args.url, args.shop)
        return
    with tempfile.TemporaryDirectory() as data, running_demo(Path(data), rate=60) as demo:
        print("started a demo; waiting until every card has something to show…")
        demo.wait_for(_filled, 300)
        shoot(demo.overview_url, demo.shop_url)


if __name__ == "__main__":
    main()
