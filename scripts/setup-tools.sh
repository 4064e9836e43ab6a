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
# Debian's chromium and its driver, pinned: the security archive's build, or the release's own
# when the security archive has moved on (both are the same major line).
CHROMIUM_VERSIONS="148.0.7778.167-1~deb12u1 147.0.7727.137-1~deb12u1"
installed=$(dpkg-query -W -f='${Version}' chromium-driver 2>/dev/null || true)
if ! printf '%s\n' $CHROMIUM_VERSIONS | grep -qxF "$installed"; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  done_install=""
  for attempt in cached updated; do
    [ "$attempt" = updated ] && $sudo apt-get update -q >/dev/null
    for v in $CHROMIUM_VERSIONS; do
      echo "== installing chromium and chromium-driver $v"
      if $sudo apt-get install -y -q --no-install-recommends "chromium=$v" "chromium-driver=$v" >/dev/null 2>&1; then
        done_install=yes
        break 2
      fi
    done
  done
  [ -n "$done_install" ] || { echo "could not install chromium/chromium-driver ($CHROMIUM_VERSIONS)" >&2; exit 1; }
fi
