#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real, only when missing.
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# amtool and the Alertmanager the end-to-end alert test delivers through.
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v node >/dev/null 2>&1 || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Debian's prometheus packages start services; the tests start their own instances.
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop prometheus 2>/dev/null || true
  systemctl stop prometheus-alertmanager 2>/dev/null || true
fi
pkill -x prometheus 2>/dev/null || true
