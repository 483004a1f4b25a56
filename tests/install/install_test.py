#!/usr/bin/python3
"""`meson install` of this build into a DESTDIR, then the installed files at work:

  1. `meson install -C BUILD --no-rebuild --destdir TMP/dest` (the build must be complete:
     meson test builds this test's depends first)
  2. the layout: ringmq, ringmq-store and ringmq-passwd in bindir (executables); auth_file,
     message_log and websocket in the plugin folder; ringmq/plugin.h; ringmq.pc; the config
     <sysconfdir>/ringmq/ringmq.toml and the unit ringmq.service with this build's paths and
     no @placeholder@ left; the unit's StateDirectory= is the config's data_dir; where
     systemd-analyze exists, `systemd-analyze verify` of the unit finds nothing to say
  3. the INSTALLED broker with the INSTALLED config, whose listener and data dir flags replace
     (127.0.0.1:0 and TMP/data), plus a ws:// listener, with NOTIFY_SOCKET set: it loads the
     websocket plugin by name from the DESTDIR's plugin folder (the log names the file; no
     folder of the build tree is among those it searches), says READY=1, serves
     mosquitto_pub/mosquitto_sub (a retained message) and a WebSocket upgrade, reloads on
     SIGHUP and still serves, stops on SIGTERM (STOPPING=1, exit 0); the installed
     ringmq-store reads the store it left
  4. the config's commented auth_file block uncommented, with a password file made by the
     installed ringmq-passwd, and NOTIFY_SOCKET an abstract @name: READY=1 there; the plugin
     loaded by name from the DESTDIR; the right password connects, a wrong one or none is
     refused

Ephemeral 127.0.0.1 ports only; every wait is a condition with a timeout; the brokers are
stopped by PID (and killed with this driver if it dies).

Usage: install_test.py --build-root DIR --bindir DIR --includedir DIR --libdir DIR
       --plugindir DIR --sysconfdir DIR --unitdir DIR ('' when the unit is not installed)
"""
import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugins"))
import interop  # noqa: E402
import websocket_test  # noqa: E402  (its WebSocket client; importing runs no test)
from interop import ScenarioFailure, check, expect_equal  # noqa: E402

PLUGINS = ("auth_file", "message_log", "websocket")
TOOLS = ("ringmq", "ringmq-store", "ringmq-passwd")
PLACEHOLDER = re.compile(r"@[A-Za-z_]+@")  # configure_file's; @system-service is systemd's


def run(argv, check_status=True, **kwargs):
    print("$ " + " ".join(argv), flush=True)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60, **kwargs)
    if r.stdout:
        print(r.stdout.rstrip(), flush=True)
    if check_status and r.returncode != 0:
        raise ScenarioFailure(f"{argv[0]} exited with status {r.returncode}")
    return r


def staged(dest, path):
    """`path` (absolute, as installed) inside the DESTDIR copy."""
    return os.path.join(dest, path.lstrip("/"))


# ---- 2. the layout --------------------------------------------------------------------------

def check_layout(a, dest, tmp):
    for tool in TOOLS:
        f = staged(dest, os.path.join(a.bindir, tool))
        check(os.path.isfile(f) and os.access(f, os.X_OK), f"{f} is an installed executable")
    for p in PLUGINS:
        f = staged(dest, os.path.join(a.plugindir, p + ".so"))
        check(os.path.isfile(f), f"{f} is installed")
    check(os.path.isfile(staged(dest, os.path.join(a.includedir, "ringmq", "plugin.h"))),
          "ringmq/plugin.h is installed")
    check(os.path.isfile(staged(dest, os.path.join(a.libdir, "pkgconfig", "ringmq.pc"))),
          "ringmq.pc is installed")
    bench = [os.path.join(d, f) for d, _, files in os.walk(dest) for f in files
             if f == "ringmq-bench"]
    expect_equal("ringmq-bench installed (a developer's load tool)", [], bench)

    config = staged(dest, os.path.join(a.sysconfdir, "ringmq", "ringmq.toml"))
    check(os.path.isfile(config), f"{config} is installed")
    with open(config) as f:
        config_text = f.read()
    check(not PLACEHOLDER.search(config_text), f"no @placeholder@ left in {config}")
    data_dir = re.search(r'^data_dir = "([^"]*)"', config_text, re.M)
    check(data_dir is not None, "the config sets persistence.data_dir")
    check(f'password_file = "{a.sysconfdir}/ringmq/passwords"' in config_text,
          "the config's auth_file example names the installed sysconfdir")

    if not a.unitdir:
        print("the unit is not installed (-Dsystemd_unit_dir=no)", flush=True)
        return config, config_text
    unit = staged(dest, os.path.join(a.unitdir, "ringmq.service"))
    check(os.path.isfile(unit), f"{unit} is installed")
    with open(unit) as f:
        unit_text = f.read()
    check(not PLACEHOLDER.search(unit_text), f"no @placeholder@ left in {unit}")
    settings = {}
    for line in unit_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            settings.setdefault(key, value)
    expect_equal("ExecStart=", f"{a.bindir}/ringmq --config {a.sysconfdir}/ringmq/ringmq.toml",
                 settings.get("ExecStart"))
    expect_equal("the config's data_dir is the unit's StateDirectory=",
                 "/var/lib/" + settings.get("StateDirectory", ""), data_dir.group(1))
    expect_equal("Type=", "notify", settings.get("Type"))
    expect_equal("ExecReload=", "/bin/kill -HUP $MAINPID", settings.get("ExecReload"))
    for syscall in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
        check(syscall in settings.get("SystemCallFilter", "").split(),
              f"SystemCallFilter= allows {syscall}")
    analyze = shutil.which("systemd-analyze")
    if analyze:
        # verify wants ExecStart='s program where it says: the staged one, in a copy.
        copy = os.path.join(tmp, "ringmq.service")
        with open(copy, "w") as f:
            f.write(unit_text.replace(f"ExecStart={a.bindir}/",
                                      f"ExecStart={staged(dest, a.bindir)}/"))
        r = run([analyze, "verify", copy], check_status=False)
        expect_equal("systemd-analyze verify: exit status", 0, r.returncode)
        expect_equal("systemd-analyze verify: complaints", "", r.stdout.strip())
    return config, config_text


# ---- 3. and 4. the installed broker ---------------------------------------------------------

class InstalledBroker(interop.Broker):
    """tests/interop's Broker (127.0.0.1:0, --threads 2, --data-dir in its own temporary
    folder) running the installed ringmq `exe` with `extra_args`, at log level info, with a
    NOTIFY_SOCKET of its own (a path, or with `abstract` an @name: sd_notify(3) allows both),
    and nothing of the build tree in its environment (meson test sets LD_LIBRARY_PATH to the
    build's plugin folders)."""

    def __init__(self, exe, extra_args, abstract=False):
        os.environ.update(RINGMQ_BROKER=exe, RINGMQ_TEST_BROKER="ringmq")
        os.environ.pop("LD_LIBRARY_PATH", None)
        super().__init__(extra_args, log_level="info")
        self.data_dir = os.path.join(self.dir, "data")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = f"@ringmq-install-test-{os.getpid()}" if abstract else os.path.join(self.dir, "notify")
        self.notify.bind("\0" + name[1:] if abstract else name)
        os.environ["NOTIFY_SOCKET"] = name
        print("$ " + " ".join([exe] + extra_args), flush=True)
        self.start()

    def notified(self, what, timeout=interop.DEFAULT_TIMEOUT):
        """The next datagram on the notify socket; fails naming `what` after `timeout`."""
        self.notify.settimeout(timeout)
        try:
            return self.notify.recv(4096).decode()
        except socket.timeout:
            raise ScenarioFailure(f"no {what} on NOTIFY_SOCKET within {timeout} s") from None

    def read_log(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop_or_fail(self):
        """SIGTERM by PID: exit status 0 within 10 s, or a failure."""
        error = self.stop()
        check(error is None, f"broker stop: {error}")


@contextlib.contextmanager
def installed_broker(exe, extra_args, abstract=False):
    """An InstalledBroker for a `with` block: on an error its log's tail is printed and it
    is stopped; its folder is removed in any case."""
    broker = InstalledBroker(exe, extra_args, abstract)
    try:
        yield broker
    except BaseException:
        print(broker.log_tail(60), flush=True)
        broker.stop(check_status=False)
        raise
    finally:
        broker.notify.close()
        broker.cleanup()


def publish_retained(port, topic, message, extra=()):
    return run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1",
                "-r", "-t", topic, "-m", message] + list(extra), check_status=False)


def receive_retained(port, topic):
    """The retained message of `topic`, read by mosquitto_sub within 10 s."""
    r = run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-t", topic,
             "-C", "1", "-W", "10"], check_status=False)
    return r.stdout.strip()


def round_trip(port, topic, message):
    r = publish_retained(port, topic, message)
    expect_equal("mosquitto_pub's exit status", 0, r.returncode)
    expect_equal(f"the retained message of {topic} (mosquitto_sub)", message,
                 receive_retained(port, topic))


def websocket_upgrade(port):
    """A WebSocket upgrade on /mqtt gets 101 with the right Sec-WebSocket-Accept."""
    try:
        websocket_test.WebSocket(port).sock.close()
    except AssertionError as e:
        raise ScenarioFailure(f"WebSocket upgrade: {e}") from None


def expect_loaded_from(broker, plugin, plugindir):
    want = f"plugin {plugin} "
    lines = [line for line in broker.read_log().splitlines() if want in line and "loaded from" in line]
    check(len(lines) == 1, f"one 'plugin {plugin} ... loaded from' line in the log, got {lines}")
    path = lines[0].split(" loaded from ")[1].split(" ")[0]
    expect_equal(f"the file plugin {plugin} was loaded from", os.path.join(plugindir, plugin + ".so"),
                 path)


def run_installed_broker(a, dest, config):
    exe = staged(dest, os.path.join(a.bindir, "ringmq"))
    with installed_broker(exe, ["--config", config, "--listen", "ws://127.0.0.1:0"]) as broker:
        check(os.path.isfile(os.path.join(broker.data_dir, "ringmq.db")),
              "the store is in --data-dir (the flag wins over the file's data_dir)")
        expect_equal("first datagram on NOTIFY_SOCKET", "READY=1", broker.notified("READY=1"))
        expect_loaded_from(broker, "websocket", staged(dest, a.plugindir))
        print("PASS the installed broker: installed config, websocket plugin from the DESTDIR, "
              "READY=1", flush=True)

        port = broker.ports["mqtt"]
        round_trip(port, "install/retained", "before reload")
        websocket_upgrade(broker.ports["websocket"])
        print("PASS mosquitto_pub/sub over TCP, a WebSocket upgrade", flush=True)

        broker.proc.send_signal(signal.SIGHUP)
        interop.wait_for(lambda: f"SIGHUP: reloading {config}" in broker.read_log(),
                         "the log line 'SIGHUP: reloading CONFIG'")
        interop.wait_for(lambda: "reload: " in broker.read_log(), "the reload's outcome in the log")
        check("the running configuration stays" not in broker.read_log(),
              "the installed config reloads without an error")
        print("\n".join(line for line in broker.read_log().splitlines() if "reload" in line.lower()),
              flush=True)
        check(broker.proc.poll() is None, "the broker runs after SIGHUP")
        round_trip(port, "install/retained", "after reload")
        print("PASS SIGHUP: reloaded, still serving", flush=True)

        broker.stop_or_fail()
        expect_equal("datagram on NOTIFY_SOCKET at SIGTERM", "STOPPING=1",
                     broker.notified("STOPPING=1"))
        info = run([staged(dest, os.path.join(a.bindir, "ringmq-store")), "info",
                    broker.data_dir]).stdout
        check(re.search(r"^retained:\s+1$", info, re.M) is not None,
              "the installed ringmq-store finds the retained message in the store")
        print("PASS SIGTERM: exit 0, STOPPING=1; ringmq-store info reads the store", flush=True)


def run_auth_file(a, dest, config_text, tmp):
    """The config's commented auth_file block, uncommented: found by name, passwords checked."""
    passwords = os.path.join(tmp, "passwords")
    run([staged(dest, os.path.join(a.bindir, "ringmq-passwd")), "--stdin", "--opslimit", "1",
         "--memlimit", "8M", passwords, "add", "alice"], input="alice-pw\n")
    block = re.search(r'^# \[\[plugin\]\]\n# name = "auth_file"\n(?:# .*\n)*', config_text, re.M)
    check(block is not None, "the config has a commented [[plugin]] auth_file block")
    lines = [line[2:] for line in block.group(0).splitlines()
             if not line.startswith("# acl_file")]  # an ACL file would need to exist
    text = config_text.replace(block.group(0), "\n".join(lines) + "\n")
    text = text.replace(f"{a.sysconfdir}/ringmq/passwords", passwords)
    config = os.path.join(tmp, "auth.toml")
    with open(config, "w") as f:
        f.write(text)
    exe = staged(dest, os.path.join(a.bindir, "ringmq"))
    with installed_broker(exe, ["--config", config], abstract=True) as broker:
        expect_equal("first datagram on an abstract NOTIFY_SOCKET", "READY=1",
                     broker.notified("READY=1"))
        expect_loaded_from(broker, "auth_file", staged(dest, a.plugindir))
        port = broker.ports["mqtt"]
        good = publish_retained(port, "install/auth", "hello", ["-u", "alice", "-P", "alice-pw"])
        expect_equal("mosquitto_pub with alice's password", 0, good.returncode)
        bad = publish_retained(port, "install/auth", "x", ["-u", "alice", "-P", "wrong"])
        check(bad.returncode != 0, "mosquitto_pub with a wrong password fails")
        anonymous = publish_retained(port, "install/auth", "x")
        check(anonymous.returncode != 0, "mosquitto_pub without a password fails")
        broker.stop_or_fail()
    print("PASS the config's auth_file example: loaded by name from the DESTDIR, passwords "
          "checked", flush=True)


def main():
    parser = argparse.ArgumentParser()
    for name in ("build-root", "bindir", "includedir", "libdir", "plugindir", "sysconfdir",
                 "unitdir"):
        parser.add_argument("--" + name, required=True)
    a = parser.parse_args()
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is missing (Debian: mosquitto-clients)")
            return 77
    tmp = tempfile.mkdtemp(prefix="ringmq-install-")
    started = time.monotonic()
    try:
        dest = os.path.join(tmp, "dest")
        run(["meson", "install", "-C", a.build_root, "--no-rebuild", "--quiet", "--destdir", dest])
        config, config_text = check_layout(a, dest, tmp)
        print("PASS the layout: binaries, tools, plugins, header, ringmq.pc, config, unit",
              flush=True)
        run_installed_broker(a, dest, config)
        run_auth_file(a, dest, config_text, tmp)
    except ScenarioFailure as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"install test: {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
