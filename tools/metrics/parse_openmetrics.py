"""Parses riskrelay's /metrics text with the Prometheus project's own Python parser and prints
every sample as JSON, for the Rust test to compare with what riskrelay delivered. A text the
parser rejects fails here, with the parser's error."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
samples = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        samples.append(
            {"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value}
        )
json.dump(samples, sys.stdout)
