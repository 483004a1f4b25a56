#!/usr/bin/python3
"""Interop: MQTT.js against the broker under test. Starts the broker, runs
mqttjs/scenarios.mjs with the machine's `node` (the scenarios print their own PASS/FAIL
lines), stops the broker by PID.

MQTT.js comes from tests/interop/mqttjs/node_modules, installed by scripts/setup.sh (`npm ci`
from the committed package-lock.json). Without it the test is skipped (exit 77) with a note.
"""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interop  # noqa: E402

MQTTJS_DIR = os.path.join(HERE, "mqttjs")
SKIP = 77  # meson's "skipped"
NODE_TIMEOUT = 120  # seconds for all scenarios; each wait inside has its own timeout


def main():
    node = os.environ.get("NODE") or shutil.which("node")
    if not node:
        print("SKIP mqttjs: no `node` on PATH (scripts/setup.sh installs Node.js)")
        return SKIP
    if not os.path.isfile(os.path.join(MQTTJS_DIR, "node_modules", "mqtt", "package.json")):
        print(f"SKIP mqttjs: MQTT.js is not installed in {MQTTJS_DIR}/node_modules; "
              "run scripts/setup.sh (or `npm ci` there)")
        return SKIP

    broker = interop.Broker().start()
    started = time.monotonic()
    rc = 1
    try:
        argv = [node, os.path.join(MQTTJS_DIR, "scenarios.mjs"), str(broker.port)]
        if interop.TRANSPORT != "tcp":
            argv += [str(broker.ports["websocket"]), interop.TRANSPORT]
        p = interop.popen(argv, cwd=MQTTJS_DIR)
        try:
            rc = p.wait(timeout=NODE_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            print(f"FAIL mqttjs: the scenarios did not finish within {NODE_TIMEOUT} s", flush=True)
            rc = 1
    finally:
        stop_error = broker.stop()
    if stop_error:
        print(f"FAIL mqttjs: {stop_error}", flush=True)
        rc = 1
    if rc != 0:
        print(broker.log_tail(), flush=True)
    broker.cleanup()
    print(f"mqttjs ({interop.TRANSPORT}): {'passed' if rc == 0 else 'FAILED'} against {broker.kind} "
          f"in {time.monotonic() - started:.1f} s", flush=True)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
