#!/usr/bin/env bash
# Runs the Slack and Teams validators over every payload the test suite wrote, after proving on
# known-bad payloads that each validator does reject bad input.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${RISKRELAY_PAYLOAD_DIR:-$root/target/payloads}"
py="$root/.tools/venv/bin/python"
min=${RISKRELAY_MIN_PAYLOADS:-20}

for tool in "node $here/validate-teams.js $here/selftest/bad-teams.json" \
            "node $here/validate-slack-types.js $here/selftest/bad-slack.json" \
            "$py $here/validate_slack_sdk.py $here/selftest/bad-slack.json"; do
  if $tool >/dev/null 2>&1; then
    echo "validator self-test failed: '$tool' accepted a known-bad payload" >&2
    exit 1
  fi
done

shopt -s nullglob
teams=("$dir"/teams/*.json)
slack=("$dir"/slack/*.json)
if [ "${#teams[@]}" -lt "$min" ] || [ "${#slack[@]}" -lt "$min" ]; then
  echo "expected at least $min Slack and $min Teams payloads in $dir, found ${#slack[@]} and ${#teams[@]}" >&2
  exit 1
fi
node "$here/validate-teams.js" "${teams[@]}"
node "$here/validate-slack-types.js" "${slack[@]}"
"$py" "$here/validate_slack_sdk.py" "${slack[@]}"
