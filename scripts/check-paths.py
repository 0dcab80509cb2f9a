#!/usr/bin/env python3
"""Fails when a tracked file refers to a path outside the repository: a relative path that
climbs above the repository's root from the file's own directory (more `..` steps than the
file is deep), the sibling checkout of shared material beside it, or an absolute path into the
workspace the repository happens to sit in. The project must carry everything its tests and docs need.

Run from anywhere: `python3 scripts/check-paths.py`. Exits 1 and lists each offending line.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Written in pieces so that this file does not match itself.
FORBIDDEN = [
    "../" + "shared",
    "/" + "work/",
]

# Inputs of path-traversal tests: text that must be refused, not a reference to a file.
NOT_REFERENCES = {
    ("tests/slack_api.rs", "grant <@UALICE> " + "../" * 2 + "etc"),
}

# Fuzz inputs are arbitrary bytes (path traversal among them), never references.
SKIPPED_PREFIXES = ("fuzz/corpus/",)

CLIMB = re.compile(r"(?<![\w.])((?:\.\./)+\.\.(?![\w.])|(?:\.\./)+)")


def tracked_files():
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    return [name for name in out.decode().split("\0") if name]


def problems(name, text):
    depth = name.count("/")
    for number, line in enumerate(text.splitlines(), start=1):
        for forbidden in FORBIDDEN:
            if forbidden in line:
                yield number, line, f"names {forbidden!r}, outside the repository"
        for match in CLIMB.finditer(line):
            steps = match.group(1).count("..")
            if steps > depth and not any(
                name == path and needle in line for path, needle in NOT_REFERENCES
            ):
                yield number, line, (
                    f"climbs {steps} directories up from {name}, above the repository's root"
                )


def main():
    found = 0
    for name in tracked_files():
        if name.startswith(SKIPPED_PREFIXES):
            continue
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for number, line, why in problems(name, text):
            found += 1
            print(f"{name}:{number}: {why}: {line.strip()}")
    if found:
        print(f"{found} reference(s) to paths outside the repository", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
