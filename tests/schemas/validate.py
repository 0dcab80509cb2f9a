"""Validates JSON documents against a JSON Schema (draft 7 or later, as the schema declares).

Usage: validate.py SCHEMA DOCUMENT...   Exit 0 when every document is valid; otherwise prints
each error as `DOCUMENT: /json/path: message` and exits 1. Uses the `jsonschema` package
pinned in requirements-dev.txt; schemas are read from disk, never fetched.
"""

import json
import sys

import jsonschema


def main(schema_path, documents):
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    failed = False
    for path in documents:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
            failed = True
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            print(f"{path}: {where}: {error.message}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
