#!/usr/bin/env bash
# Installs the pinned test tools into .tools/ (Python) and tools/validators/node_modules (npm).
# Idempotent: a second run only checks that they are there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .tools/venv/bin/moto_server ] || ! cmp -s tools/requirements.lock .tools/venv/.installed; then
  echo "== installing Python test tools (moto, aws-sam-cli, slack_sdk, standardwebhooks, jsonschema)"
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
