#!/usr/bin/python3
"""Prints the ninja targets that the tests of the given suites need, for a configured build
directory: each test's program (when the build makes it) and what its meson test() depends on
(e.g. build/ringmq for the Python tests). scripts/test builds only these in the sanitizer
stages instead of everything.
Usage: scripts/test_targets.py BUILD_DIR SUITE [SUITE...]"""

import json
import os
import subprocess
import sys


def introspect(build_dir, what):
    out = subprocess.run(["meson", "introspect", build_dir, what], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    build_dir, suites = sys.argv[1], set(sys.argv[2:])
    root = os.path.realpath(build_dir)
    files_of = {t["id"]: t["filename"] for t in introspect(build_dir, "--targets")}
    wanted = set()
    for test in introspect(build_dir, "--tests"):
        if not suites & {s.split(":", 1)[-1] for s in test["suite"]}:
            continue
        paths = [test["cmd"][0]] + [f for d in test["depends"] for f in files_of.get(d, [])]
        for p in paths:
            real = os.path.realpath(p)
            if real.startswith(root + os.sep):
                wanted.add(os.path.relpath(real, root))
    print(" ".join(sorted(wanted)))


if __name__ == "__main__":
    main()
