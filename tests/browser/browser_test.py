#!/usr/bin/python3
"""Browser test: a real browser speaks MQTT over WebSocket to ringmq.

Prepares a temporary http_root (page/index.html, page/app.js and MQTT.js's browser bundle
node_modules/mqtt/dist/mqtt.esm.js), starts build/ringmq ($RINGMQ_BROKER) with a TCP and a
ws:// listener and the websocket plugin serving that http_root on the ws:// port (interop.py's
Broker), runs browser_test.mjs (Debian's Chromium, headless, driven by playwright-core; an
MQTT.js client over TCP on the other side) with a timeout, and stops the broker by PID.

Needs /usr/bin/chromium (or $CHROMIUM), `node`, and tests/browser/node_modules, all installed
by `scripts/setup.sh --tests`. Without them the test is skipped (exit 77) with a note, except
under CI (CI set and not "false"/"0"), where setup installs them, so their absence fails.
Nothing is downloaded at test time.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))
# The broker is ringmq (only its websocket plugin serves http_root), with a ws:// listener.
os.environ["RINGMQ_TEST_BROKER"] = "ringmq"
os.environ["RINGMQ_TEST_TRANSPORT"] = "websocket"
import interop  # noqa: E402

SKIP = 77  # meson's "skipped"
NODE_TIMEOUT = 90  # seconds for the whole driver; each wait inside has its own timeout
PAGE_FILES = ("index.html", "app.js")
BUNDLE = os.path.join("node_modules", "mqtt", "dist", "mqtt.esm.js")


def in_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def missing_tools():
    """What the test needs that is not installed, as notes (empty: all there)."""
    notes = []
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        notes.append(f"no Chromium at {chromium} (Debian package chromium)")
    if not (os.environ.get("NODE") or shutil.which("node")):
        notes.append("no `node` on PATH")
    for package in ("playwright-core", "mqtt"):
        if not os.path.isfile(os.path.join(HERE, "node_modules", package, "package.json")):
            notes.append(f"{package} is not installed in {HERE}/node_modules")
    return notes


def skip_or_fail(name, missing):
    """None when nothing is missing; otherwise prints why and returns the exit code: skipped
    (77), or failed (1) under CI, where setup must have installed everything."""
    if not missing:
        return None
    note = "; ".join(missing) + " (scripts/setup.sh --tests installs them)"
    if in_ci():
        print(f"FAIL {name}: {note}; under CI setup must have installed them", flush=True)
        return 1
    print(f"SKIP {name}: {note}", flush=True)
    return SKIP


def write_http_root(folder):
    """The page, its script and MQTT.js's bundle in `folder`, and a config serving it."""
    www = os.path.join(folder, "www")
    os.mkdir(www)
    for name in PAGE_FILES:
        shutil.copyfile(os.path.join(HERE, "page", name), os.path.join(www, name))
    shutil.copyfile(os.path.join(HERE, BUNDLE), os.path.join(www, os.path.basename(BUNDLE)))
    config = os.path.join(folder, "ringmq.toml")
    with open(config, "w") as f:
        # A JSON string is a valid TOML basic string.
        f.write('[[plugin]]\nname = "websocket"\n[plugin.options]\n'
                f'http_root = {json.dumps(www)}\n')
    return config


def run_driver(name, argv, timeout=NODE_TIMEOUT):
    """Runs the Node driver `argv` (a script here and its arguments) with a timeout; returns
    its exit code."""
    node = os.environ.get("NODE") or shutil.which("node")
    p = interop.popen([node] + list(argv), cwd=HERE)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Chromium (in a process group of its own: playwright detaches it) exits when its
        # DevTools pipe to the driver closes, so ending the driver ends the browser too.
        p.kill()
        p.wait()
        print(f"FAIL {name}: the driver did not finish within {timeout} s", flush=True)
        return 1


def with_broker(name, extra_args, body, log_level="warning"):
    """Starts build/ringmq (interop.Broker, ephemeral 127.0.0.1 ports) with `extra_args`, runs
    body(broker) -> exit code, stops the broker by PID; prints its log on a failure. Returns 0
    or 1."""
    broker = interop.Broker(extra_args=extra_args, log_level=log_level)
    try:
        broker.start()
    except SystemExit as e:  # interop.Broker's way of saying it could not start
        print(f"FAIL {name}: the broker did not start: {e}", flush=True)
        broker.cleanup()
        return 1
    try:
        rc = body(broker)
    finally:
        stop_error = broker.stop()
    if stop_error:
        print(f"FAIL {name}: {stop_error}", flush=True)
        rc = 1
    if rc != 0 and os.path.getsize(broker.log_path) > 0:
        print(broker.log_tail(), flush=True)
    broker.cleanup()
    return 0 if rc == 0 else 1


def main():
    rc = skip_or_fail("browser", missing_tools())
    if rc is not None:
        return rc

    def body(broker):
        if "websocket" not in broker.ports or "mqtt" not in broker.ports:
            print(f"FAIL browser: expected an mqtt and a websocket listener, the broker "
                  f"printed {broker.ports}", flush=True)
            return 1
        return run_driver("browser", [
            os.path.join(HERE, "browser_test.mjs"), str(broker.ports["websocket"]),
            str(broker.ports["mqtt"]), os.environ.get("CHROMIUM", "/usr/bin/chromium")])

    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="ringmq-browser-")
    try:
        rc = with_broker("browser", ["--config", write_http_root(folder)], body)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"browser/websocket: {'passed' if rc == 0 else 'FAILED'} in "
          f"{time.monotonic() - started:.1f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
