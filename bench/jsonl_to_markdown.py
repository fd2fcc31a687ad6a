#!/usr/bin/env python3
"""Turns benchmark JSON lines (from `fls bench ... --json`) into a Markdown table.

Usage: fls bench codec --json | python3 bench/jsonl_to_markdown.py [--columns a,b,c]
Lines that are not JSON objects are ignored, so a whole log can be piped in.
With no --columns, the keys of the first row are used, in order.
"""
import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", help="comma-separated keys to show, in order")
    parser.add_argument("files", nargs="*", help="JSON-lines files (default: standard input)")
    args = parser.parse_args()

    rows = []
    streams = [open(f, encoding="utf-8") for f in args.files] or [sys.stdin]
    for stream in streams:
        for line in stream:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    if not rows:
        print("no JSON rows found", file=sys.stderr)
        return 1
    columns = args.columns.split(",") if args.columns else list(rows[0].keys())

    def cell(value):
        if isinstance(value, float):
            return f"{value:.2f}"
        return "" if value is None else str(value)

    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(cell(row.get(c)) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
