#!/usr/bin/python3
"""The out-of-tree route for plugins (docs/plugins.md), step by step:

  1. `meson install --tags devel --destdir TMP` from the build: the header and ringmq.pc only
  2. pkg-config finds ringmq.pc in TMP (PKG_CONFIG_PATH) and points into TMP
     (PKG_CONFIG_SYSROOT_DIR): --cflags names TMP's include folder, which has ringmq/plugin.h
  3. examples/plugins/rate_limit, copied out of the source tree, built with its Makefile
     (-Wall -Wextra -Werror -pedantic, -z defs)
  4. the .so exports exactly one dynamic symbol, ringmq_plugin_entry (nm -D --defined-only)
  5. (without --build-only) build/ringmq loads it from a config file (rate 0.1/s, burst 3):
     a client's first 3 QoS 1 PUBLISHes get PUBACK 0x00, the next ones 0x97 (quota
     exceeded); another client has its own bucket; a client that reconnects starts full
     again (the bucket was forgotten at disconnect). Skips (77) while build/ringmq has no
     --config.

Usage: example_build_test.py --build-root DIR --source-root DIR [--build-only]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import example_broker
import interop


def run(argv, **kwargs):
    print("$ " + " ".join(argv), flush=True)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if r.stdout:
        print(r.stdout.rstrip(), flush=True)
    if r.returncode != 0:
        raise interop.ScenarioFailure(f"{argv[0]} exited with status {r.returncode}")
    return r.stdout


def build_example(args, tmp):
    dest = os.path.join(tmp, "dest")
    run(["meson", "install", "-C", args.build_root, "--no-rebuild", "--tags", "devel",
         "--destdir", dest])
    pcs = [os.path.join(d, f) for d, _, files in os.walk(dest) for f in files if f == "ringmq.pc"]
    interop.expect_equal("ringmq.pc files installed", 1, len(pcs))
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest,
               PKG_CONFIG_LIBDIR="")
    cflags = run(["pkg-config", "--cflags", "ringmq"], env=env).split()
    includes = [f[2:] for f in cflags if f.startswith("-I")]
    interop.check(len(includes) == 1 and includes[0].startswith(dest + "/"),
                  f"pkg-config --cflags ringmq points into the DESTDIR copy: {cflags}")
    interop.check(os.path.isfile(os.path.join(includes[0], "ringmq", "plugin.h")),
                  f"{includes[0]}/ringmq/plugin.h is installed")
    plugindir = run(["pkg-config", "--variable=plugindir", "ringmq"], env=env).strip()
    interop.check(plugindir.endswith("/ringmq/plugins"), f"plugindir {plugindir!r}")

    src = os.path.join(tmp, "rate_limit")
    shutil.copytree(os.path.join(args.source_root, "examples", "plugins", "rate_limit"), src)
    run(["make", "-C", src, "CFLAGS=-O2 -g -Wall -Wextra -Werror -pedantic"], env=env)
    so = os.path.join(src, "rate_limit.so")
    symbols = run(["nm", "-D", "--defined-only", so]).split("\n")
    symbols = [line.split()[-1] for line in symbols if line.strip()]
    interop.expect_equal("dynamic symbols rate_limit.so defines", ["ringmq_plugin_entry"], symbols)
    return so


def run_broker(so):
    config = example_broker.plugin_table("rate_limit", so, {"rate": 0.1, "burst": 3})
    broker = example_broker.PluginBroker(config).start_or_skip()
    try:
        a = example_broker.RawClient(broker.port, "rl-a")
        # Accepted: 0x00, or 0x10 (no matching subscribers); refused: 0x97.
        codes = [a.publish_qos1("rl/a", b"x") for _ in range(6)]
        interop.expect_equal("PUBACK reasons for a burst of 6 (burst = 3), accepted = ok",
                             ["ok", "ok", "ok", 0x97, 0x97, 0x97],
                             ["ok" if c < 0x80 else c for c in codes])
        b = example_broker.RawClient(broker.port, "rl-b")
        interop.check(b.publish_qos1("rl/b", b"x") < 0x80, "another client has its own bucket")
        a.disconnect()
        b.disconnect()
        a = example_broker.RawClient(broker.port, "rl-a")
        interop.check(a.publish_qos1("rl/a", b"x") < 0x80,
                      "accepted after reconnecting (the bucket was forgotten)")
        a.disconnect()
    except Exception:
        print(broker.log_tail(), flush=True)
        broker.stop(check_status=False)
        raise
    error = broker.stop()
    interop.check(error is None, f"broker stop: {error}")
    broker.cleanup()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-root", required=True)
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="ringmq-example-build-")
    try:
        so = build_example(args, tmp)
        print("PASS build: rate_limit.so built against the installed header, one symbol",
              flush=True)
        if not args.build_only:
            run_broker(so)
            print("PASS broker: PUBACK 0x97 beyond the burst", flush=True)
    except interop.ScenarioFailure as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
