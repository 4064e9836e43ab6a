#!/usr/bin/env bash
# Installs the pinned test tools into .tools/ (Python) and tools/validators/node_modules (npm),
# and Debian's chromium and chromium-driver for the browser test of the action pages.
# Idempotent: a second run only checks that they are there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .tools/venv/bin/moto_server ] || ! cmp -s tools/requirements.lock .tools/venv/.installed; then
  echo "== installing Python test tools (moto, aws-sam-cli, slack_sdk, standardwebhooks, jsonschema, selenium)"
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt -c tools/requirements.lock
  cp tools/requirements.lock .tools/venv/.installed
fi
if [ ! -x .tools/checkov/bin/checkov ] || ! cmp -s tools/requirements-checkov.lock .tools/checkov/.installed; then
  echo "== installing checkov (own virtualenv: it pins versions that clash with aws-sam-cli)"
  python3 -m venv .tools/checkov
  .tools/checkov/bin/pip install -q --disable-pip-version-check -r tools/requirements-checkov.txt -c tools/requirements-checkov.lock
  cp tools/requirements-checkov.lock .tools/checkov/.installed
fi
if [ ! -d tools/validators/node_modules ] || ! cmp -s tools/validators/package-lock.json tools/validators/node_modules/.package-lock.json.installed; then
  echo "== installing the payload validators (npm ci)"
  (cd tools/validators && npm ci --no-audit --no-fund --silent)
  cp tools/validators/package-lock.json tools/validators/node_modules/.package-lock.json.installed
fi
# Debian's chromium and its driver: whatever pair the archive carries now (its security updates
# retire each build within weeks, so an exact pin breaks a fresh machine), installed together so
# apt keeps them at one version, and checked to be that one pair.
installed() {
  # dpkg-query fails for a package the machine has never seen: that is "not installed", not an error.
  { dpkg-query -W -f='${db:Status-Abbrev}|${Version}' "$1" 2>/dev/null || true; } | sed -n 's/^ii *|//p'
}
browser=$(installed chromium)
driver=$(installed chromium-driver)
if [ -z "$browser" ] || [ "$browser" != "$driver" ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  echo "== installing Debian's chromium and chromium-driver"
  if ! $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
  fi
  browser=$(installed chromium)
  driver=$(installed chromium-driver)
fi
if [ -z "$browser" ] || [ "$browser" != "$driver" ]; then
  echo "chromium $browser and chromium-driver $driver differ; the browser test needs one pair" >&2
  exit 1
fi
echo "== chromium and chromium-driver $browser"
