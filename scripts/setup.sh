#!/usr/bin/env bash
# One-time set-up of a fresh Debian machine (root or sudo): system packages,
# npm packages, then the compiled service in dist/ (`npm start` runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# System packages the project uses (see README "System packages").
APT_PACKAGES=$( (grep -v '^#' scripts/apt-packages.txt || true) | xargs)
if [ -n "$APT_PACKAGES" ] && command -v apt-get >/dev/null; then
  missing=$(for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | xargs)
  if [ -n "$missing" ]; then
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
  fi
fi
npm ci --no-audit --no-fund
npm run build
