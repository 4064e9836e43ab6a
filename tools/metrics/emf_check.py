"""Reads a Lambda function's stdout, checks every Embedded Metric Format line against the
specification's structure (tools/metrics/emf.schema.json) and its rule that each dimension and
metric a directive names is a member of the document (a string dimension, a numeric value), and
prints the metric totals by name as JSON. Any other line fails the check: EMF lines are the only
thing riskrelay writes to stdout."""
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "emf.schema.json").read_text())
totals = {}
dimensions = set()
for n, line in enumerate(pathlib.Path(sys.argv[1]).read_text().splitlines(), 1):
    if not line.strip():
        continue
    doc = json.loads(line)
    jsonschema.validate(doc, schema)
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dims in directive["Dimensions"]:
            for d in dims:
                if not isinstance(doc.get(d), str):
                    sys.exit(f"line {n}: dimension {d} is not a string member")
                dimensions.add(d)
        for metric in directive["Metrics"]:
            value = doc.get(metric["Name"])
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                sys.exit(f"line {n}: metric {metric['Name']} has no numeric value")
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + value
json.dump({"totals": totals, "dimensions": sorted(dimensions)}, sys.stdout)
