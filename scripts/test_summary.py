#!/usr/bin/env python3
"""Sums meson's testlog.json files into the line CI reads: "N passed, M failed".

A build that failed to compile counts as one failed test (--build-failures). Skipped tests
(exit code 77: a kernel feature missing) are listed but are neither passed nor failed.
The exit status is 0 only when nothing failed.
"""
import argparse
import json
import os
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
FAILED = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-failures", type=int, default=0)
    ap.add_argument("logs", nargs="*")
    args = ap.parse_args()

    passed = failed = skipped = 0
    failures = []
    for log in args.logs:
        if not os.path.exists(log):
            print(f"missing test log {log}: counted as one failure")
            failed += 1
            continue
        build = log.split(os.sep)[0]
        with open(log, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line)
                result = rec.get("result", "ERROR")
                if result in PASSED:
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                else:
                    failed += 1
                    failures.append(f"{build}: {rec.get('name')} ({result})")
    failed += args.build_failures
    for f in failures:
        print(f"FAILED {f}")
    if skipped:
        print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
