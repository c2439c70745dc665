#!/usr/bin/env bash
# Generated attacks for a fixed time (FUZZ_SECONDS, default 600): round after round,
# the property tests of tests/unit/test_generated_attacks.py with the hypothesis profile
# "fuzz" (fresh draws, hundreds of examples each), then the attack on a running collector
# and worker (tests/integration/test_generated_attacks.py, fresh draws too). No round
# starts after the time is up, so a run ends within one round (~3 min) of it. The first
# failure stops it; hypothesis prints the seed or blob that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
budget=${FUZZ_SECONDS:-600}
export HYPOTHESIS_PROFILE=fuzz
rounds=0
while ((SECONDS < budget)); do
  rounds=$((rounds + 1))
  echo "fuzz round $rounds (${SECONDS}s of ${budget}s)"
  "$python" -m pytest -q -p no:cacheprovider tests/unit/test_generated_attacks.py
  "$python" -m pytest -q -p no:cacheprovider tests/integration/test_generated_attacks.py
done
echo "fuzz: $rounds rounds, no failure, in ${SECONDS}s"
