#!/usr/bin/env bash
# Generated attacks for a fixed time (FUZZ_SECONDS, default 600): round after round,
# the property tests of tests/unit/test_generated_attacks.py with the hypothesis profile
# "fuzz" (fresh draws, hundreds of examples each), then the attack on a running collector
# and worker (tests/integration/test_generated_attacks.py, fresh draws too). No round
# starts after the time is up, so a run ends within one round (~1-3 min) of it. A failing
# round does not stop the run (hypothesis prints the seed or blob that reproduces it);
# the exit status says whether any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
budget=${FUZZ_SECONDS:-600}
export HYPOTHESIS_PROFILE=fuzz
rounds=0
failed_unit=0
failed_integration=0
while ((SECONDS < budget)); do
  rounds=$((rounds + 1))
  echo "fuzz round $rounds (${SECONDS}s of ${budget}s)"
  "$python" -m pytest -q -p no:cacheprovider tests/unit/test_generated_attacks.py ||
    failed_unit=$((failed_unit + 1))
  "$python" -m pytest -q -p no:cacheprovider tests/integration/test_generated_attacks.py ||
    failed_integration=$((failed_integration + 1))
done
echo "fuzz: $rounds rounds in ${SECONDS}s; failed: unit $failed_unit, integration $failed_integration"
((failed_unit + failed_integration == 0))
