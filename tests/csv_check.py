#!/usr/bin/env python3
"""Every CSV file under the given directories parses with Python's csv module and every row
has as many fields as its header. Prints one line per file; exit 1 on the first bad file.
Used by the script tests (tests/test_sweep_tables.sh ...) after the commands write them."""
import csv
import os
import sys


def check(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0]:
        raise ValueError("no header")
    n = len(rows[0])
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != n:
            raise ValueError(f"row {i} has {len(r)} fields, the header {n}: {r}")
    if len(set(rows[0])) != n:
        raise ValueError(f"duplicate column names in the header {rows[0]}")
    return n, len(rows) - 1


def main():
    nfiles = 0
    for top in sys.argv[1:]:
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith(".csv"):
                    continue
                p = os.path.join(root, name)
                try:
                    n, rows = check(p)
                except Exception as e:  # noqa: BLE001 - report any failure with the file
                    print(f"FAIL: {p}: {e}")
                    return 1
                nfiles += 1
                print(f"ok {p}: {n} columns, {rows} rows")
    if nfiles == 0:
        print("FAIL: no CSV file found")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
