"""Validates Slack incoming-webhook payloads with slack_sdk's Block Kit models.

Block.parse returns None for an unknown block type; validate_json() raises on a length limit,
a missing field or a bad value. Every block of every file must pass.
Usage: python validate_slack_sdk.py FILE...
"""
import json
import sys

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

SLACK_MAX_BLOCKS = 50


def problems(payload):
    out = []
    if not isinstance(payload.get("text"), str) or not payload["text"].strip():
        out.append("no text fallback (mobile notifications read only text)")
    blocks = payload.get("blocks", [])
    if len(blocks) > SLACK_MAX_BLOCKS:
        out.append(f"{len(blocks)} blocks, over Slack's {SLACK_MAX_BLOCKS}")
    for i, raw in enumerate(blocks):
        block = Block.parse(raw)
        if block is None:
            out.append(f"block {i}: unknown block type {raw.get('type')!r}")
            continue
        try:
            block.validate_json()
        except SlackObjectFormationError as e:
            out.append(f"block {i} ({raw.get('type')}): {e}")
    for key in ("link_names", "parse"):
        if key in payload:
            out.append(f"payload sets {key!r}, which turns plain text into mentions")
    return out


def main(files):
    failed = 0
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                found = problems(json.load(fh))
        except (OSError, ValueError) as e:
            found = [f"unreadable: {e}"]
        if found:
            failed += 1
            print(f"FAIL {f}", file=sys.stderr)
            for p in found:
                print(f"  {p}", file=sys.stderr)
    print(f"slack_sdk: {len(files) - failed}/{len(files)} payloads valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
