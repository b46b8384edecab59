"""Schemathesis hooks for loglynx's OpenAPI fuzz (crates/cli/tests/e2e_openapi_fuzz.rs).

The ingest, `_bulk` and `_msearch` bodies are newline-delimited JSON, which schemathesis has no
serializer for: the schema says `type: string`, so a generated string is sent as it is (UTF-8),
and a generated JSON value (from another media type's schema) one JSON document per line.
"""
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(v) + "\n" for v in items).encode()
