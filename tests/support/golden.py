"""The golden journeys: a small hand-checked stream and the totals it must give.

Kept in ``tests/data`` with the tests, so the tests that use them always run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN_STREAM = DATA / "golden-journeys.jsonl"
GOLDEN_EXPECTED: dict[str, Any] = json.loads((DATA / "golden-journeys.expected.json").read_text())
