#!/usr/bin/python3
"""The messenger's browser test (examples/messenger, docs/messenger.md, issue 13).

Starts build/ringmq ($RINGMQ_BROKER) with an MQTT listener and a ws:// listener on ephemeral
127.0.0.1 ports, `--http-root examples/messenger/web` and its SQLite store in a temporary
directory, and a second one with sign-in (the auth_file plugin, a password file made with
ringmq-passwd, the shipped ACL examples/messenger/auth/acl); then runs messenger_test.mjs
(Debian's Chromium through playwright-core from tests/browser/node_modules: alice and bob in
two browser contexts, and the console client) with a timeout. The driver asks for the first
broker to be killed and started again by printing `CONTROL kill` / `CONTROL start` lines;
this script does it (SIGKILL by PID; the same ports and data directory on restart) and
answers on the driver's stdin. Screenshots go to $MESSENGER_ARTIFACTS (meson sets
BUILD/meson-logs/messenger-artifacts).

Needs /usr/bin/chromium (or $CHROMIUM), `node`, tests/browser/node_modules (playwright-core)
and examples/messenger's set-up (node_modules and web/vendor/mqtt.esm.js), all from
`scripts/setup.sh --tests`. Without them: skipped (77), or failed under CI.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))
import interop  # noqa: E402
import browser_test  # noqa: E402
from browser_test import skip_or_fail  # noqa: E402

MESSENGER = os.path.join(ROOT, "examples", "messenger")
WEB = os.path.join(MESSENGER, "web")
NODE_TIMEOUT = 110  # seconds for the whole driver; each wait inside has its own timeout
START_TIMEOUT = 20
ALICE_PASSWORD = "correct horse battery staple"


def missing_tools():
    """browser_test.py's (Chromium, node, tests/browser/node_modules) and the example's set-up."""
    notes = browser_test.missing_tools()
    for path in ("node_modules/mqtt/package.json", "web/vendor/mqtt.esm.js"):
        if not os.path.isfile(os.path.join(MESSENGER, path)):
            notes.append(f"no examples/messenger/{path}")
    return notes


class Broker:
    """build/ringmq on two listeners; restartable on the same ports and data directory."""

    def __init__(self, folder, name="broker", extra_args=()):
        self.exe = os.environ.get("RINGMQ_BROKER", "")
        self.data = os.path.join(folder, f"{name}-data")
        self.log_path = os.path.join(folder, f"{name}.log")
        self.extra_args = list(extra_args)
        self.ports = {}
        self.proc = None

    def start(self):
        if self.ports:
            listen = [f"127.0.0.1:{self.ports['mqtt']}",
                      f"ws://127.0.0.1:{self.ports['websocket']}"]
        else:
            listen = ["127.0.0.1:0", "ws://127.0.0.1:0"]
        argv = [self.exe, "--threads", "2", "--log-level", "warning", "--data-dir", self.data,
                "--http-root", WEB] + self.extra_args
        for address in listen:
            argv += ["--listen", address]
        with open(self.log_path, "ab") as log:
            self.proc = interop.popen(argv, stdout=subprocess.PIPE, stderr=log)
        ports = {}
        found = threading.Event()

        def read_stdout(proc):
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                if line.startswith("listening"):
                    ports.setdefault(line.split(" ")[1], interop.port_from_listening_line(line))
                elif line == "ready":
                    found.set()
            found.set()

        threading.Thread(target=read_stdout, args=(self.proc,), daemon=True).start()
        if not found.wait(START_TIMEOUT) or "mqtt" not in ports or "websocket" not in ports:
            self.kill()
            raise RuntimeError(f"the broker did not get ready within {START_TIMEOUT} s "
                               f"(ports {ports})\n" + interop.log_tail(self.log_path, "ringmq"))
        self.ports = ports
        print(f"broker: ringmq pid {self.proc.pid} mqtt {ports['mqtt']} "
              f"websocket {ports['websocket']}", flush=True)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM by PID; returns an error string or None."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return f"ringmq had already ended with status {self.proc.returncode}"
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return "ringmq did not exit within 10 s of SIGTERM; killed"
        if self.proc.returncode != 0:
            return f"ringmq exited with status {self.proc.returncode} after SIGTERM"
        return None


def auth_broker(folder):
    """A second broker with sign-in: the auth_file plugin, alice's password (ALICE_PASSWORD)
    and the shipped ACL (examples/messenger/auth/acl)."""
    passwd = os.path.join(os.path.dirname(os.environ["RINGMQ_BROKER"]), "plugins", "auth_file",
                          "ringmq-passwd")
    passwords = os.path.join(folder, "passwords")
    # The cheapest argon2id: this test is about the app, not the hash's cost.
    subprocess.run([passwd, "--stdin", "--opslimit", "1", "--memlimit", "8M", passwords, "add",
                    "alice"], input=(ALICE_PASSWORD + "\n").encode(), check=True, timeout=30,
                   stdout=subprocess.DEVNULL)
    config = os.path.join(folder, "auth.toml")
    with open(config, "w") as f:
        # A JSON string is a valid TOML basic string.
        f.write('[[plugin]]\nname = "auth_file"\n[plugin.options]\n'
                f"password_file = {json.dumps(passwords)}\n"
                f"acl_file = {json.dumps(os.path.join(MESSENGER, 'auth', 'acl'))}\n")
    return Broker(folder, "auth", ["--config", config])


def run_driver(broker, auth, artifacts, folder):
    """Runs messenger_test.mjs, serving its CONTROL requests; returns its exit code."""
    node = os.environ.get("NODE") or shutil.which("node")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    argv = [node, os.path.join(HERE, "messenger_test.mjs"), str(broker.ports["websocket"]),
            str(broker.ports["mqtt"]), chromium, artifacts, folder,
            str(auth.ports["websocket"]), ALICE_PASSWORD]
    p = interop.popen(argv, cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    timer = threading.Timer(NODE_TIMEOUT, p.kill)
    timer.start()
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if not line.startswith("CONTROL "):
                print(line, flush=True)
                continue
            request = line.split(" ", 1)[1]
            try:
                if request == "kill":
                    broker.kill()
                    answer = f"killed {broker.proc.returncode}"
                elif request == "start":
                    broker.start()
                    answer = "started"
                else:
                    answer = f"error unknown request {request}"
            except Exception as e:  # reported to the driver, which fails
                answer = f"error {e}".replace("\n", " ")
            print(f"control: {request} -> {answer}", flush=True)
            p.stdin.write((answer + "\n").encode())
            p.stdin.flush()
        rc = p.wait()
    finally:
        timed_out = not timer.is_alive() and p.returncode is not None and p.returncode < 0
        timer.cancel()
    if timed_out:
        print(f"FAIL messenger: the driver did not finish within {NODE_TIMEOUT} s", flush=True)
        return 1
    return rc


def main():
    rc = skip_or_fail("messenger", missing_tools())
    if rc is not None:
        return rc
    if not os.access(os.environ.get("RINGMQ_BROKER", ""), os.X_OK):
        print("FAIL messenger: RINGMQ_BROKER is not the built broker", flush=True)
        return 1
    artifacts = os.environ.get("MESSENGER_ARTIFACTS") or os.path.join(
        os.path.dirname(os.environ["RINGMQ_BROKER"]), "meson-logs", "messenger-artifacts")
    os.makedirs(artifacts, exist_ok=True)

    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="ringmq-messenger-")
    broker = Broker(folder)
    auth = None
    rc = 1
    try:
        broker.start()
        auth = auth_broker(folder)
        auth.start()
        rc = run_driver(broker, auth, artifacts, folder)
        for b in (broker, auth):
            stop_error = b.stop()
            if stop_error:
                print(f"FAIL messenger: {stop_error}", flush=True)
                rc = 1
    except (RuntimeError, subprocess.SubprocessError) as e:
        print(f"FAIL messenger: {e}", flush=True)
    finally:
        for b in (broker, auth):
            if b is None:
                continue
            b.kill()
            if rc != 0 and os.path.exists(b.log_path) and os.path.getsize(b.log_path):
                print(interop.log_tail(b.log_path, "ringmq"), flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"artifacts: {artifacts}", flush=True)
    print(f"browser/messenger: {'passed' if rc == 0 else 'FAILED'} in "
          f"{time.monotonic() - started:.1f} s", flush=True)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
