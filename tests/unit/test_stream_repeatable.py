"""A seed gives the same generated stream in every process.

Reliability scenarios, benchmarks and RELIABILITY.md figures name a seed; a stream
that changed with the interpreter's hash randomization (or object addresses) would
make a failure impossible to replay.
"""

from __future__ import annotations

import os
import subprocess
import sys

DIGEST = """
import hashlib
from tracker.testing.streams import generated_messages
digest = hashlib.sha256()
for m in generated_messages(seed=4303, events=3_000, batch=10):
    digest.update(m.key or b"-")
    digest.update(m.value or b"-")
print(digest.hexdigest())
"""


def _digest(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", DIGEST], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_one_seed_gives_one_stream_whatever_the_process() -> None:
    assert _digest("1") == _digest("2") == _digest("random")
