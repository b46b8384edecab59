# Parses the Prometheus text format on stdin with Prometheus's own Python client (its parser
# raises on anything malformed) and prints the families as JSON: name (a counter's without
# `_total`), type, help and samples (name, labels, value).
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    families.append(
        {
            "name": fam.name,
            "type": fam.type,
            "help": fam.documentation,
            "samples": [
                {"name": s.name, "labels": s.labels, "value": s.value} for s in fam.samples
            ],
        }
    )
print(json.dumps(families))
