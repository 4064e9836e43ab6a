"""Checks webhook deliveries riskrelay made, independently of riskrelay's code.

Usage: verify_webhooks.py SECRET DELIVERY.json...

Each DELIVERY file is {"headers": {...}, "body": "<the exact body sent>"}. The signature is
verified with the `standardwebhooks` reference library (which also rejects a stale timestamp) and
the body is validated against schemas/webhook-event.v1.json with `jsonschema`. Exits 0 when every
delivery passes both, 1 naming the first that does not.
"""

import json
import pathlib
import sys

import jsonschema
from standardwebhooks.webhooks import Webhook

SCHEMA = pathlib.Path(__file__).resolve().parents[2] / "schemas" / "webhook-event.v1.json"


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    secret, files = sys.argv[1], sys.argv[2:]
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    hook = Webhook(secret)
    for name in files:
        delivery = json.loads(pathlib.Path(name).read_text())
        try:
            hook.verify(delivery["body"], delivery["headers"])
        except Exception as e:  # the library raises its own WebhookVerificationError
            print(f"{name}: signature rejected: {e}", file=sys.stderr)
            return 1
        errors = sorted(validator.iter_errors(json.loads(delivery["body"])), key=str)
        if errors:
            print(f"{name}: not schema version 1: {errors[0].message} at {list(errors[0].absolute_path)}", file=sys.stderr)
            return 1
    print(f"{len(files)} webhook deliveries verified and valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
