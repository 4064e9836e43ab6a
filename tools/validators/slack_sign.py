"""Signs a request body as Slack does, with slack_sdk's own SignatureVerifier, so that the tests
check riskrelay's verification against Slack's implementation rather than against itself.

Usage: python slack_sign.py SIGNING_SECRET TIMESTAMP BODY_FILE
Prints the X-Slack-Signature value.
"""

import sys

from slack_sdk.signature import SignatureVerifier


def main() -> int:
    secret, timestamp, path = sys.argv[1:4]
    with open(path, "rb") as f:
        body = f.read()
    verifier = SignatureVerifier(signing_secret=secret)
    print(verifier.generate_signature(timestamp=timestamp, body=body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
