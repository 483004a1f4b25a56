#!/usr/bin/python3
"""TLS test (issue 14): MQTT.js in Node and headless Chromium against ringmq's mqtts:// and
wss:// listeners.

Makes a throwaway PKI with the `openssl` CLI in a temporary directory (EC P-256 throughout):
the test CA, a server certificate it signs (subjectAltName IP:127.0.0.1 and DNS:localhost), a
client certificate it signs, and an unrelated second CA with a server and a client certificate
of its own. Prepares browser_test.py's http_root (the test page and MQTT.js's browser bundle),
starts build/ringmq ($RINGMQ_BROKER) with --tls-cert/--tls-key and four TLS listeners on
ephemeral 127.0.0.1 ports, in this order:

  mqtts://127.0.0.1:0                                        server certificate of the test CA
  wss://127.0.0.1:0                                          same, the page and /mqtt
  mqtts://127.0.0.1:0?client_certs=require&ca=CA             mTLS (per-listener overrides)
  wss://127.0.0.1:0?cert=OTHER&key=OTHER_KEY                 a server certificate of the other CA

runs tls_test.mjs (the checks are listed there) with a timeout, and stops the broker by PID
(browser_test.with_broker: the broker's log is printed on a failure). Chromium trusts only our
server certificate's public key (--ignore-certificate-errors-spki-list, the base64 SHA-256 of
its SubjectPublicKeyInfo, computed with openssl here).

Needs what browser_test.py needs (Chromium, node, tests/browser/node_modules) and `openssl`;
skipped (77) without them unless CI is set, where it fails.
"""

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
import browser_test  # noqa: E402  (sets up interop: ringmq, its plugin beside it)
from browser_test import run_driver, skip_or_fail, with_broker, write_http_root  # noqa: E402

NAME = "browser/tls"
NODE_TIMEOUT = 60  # seconds for the whole driver; each wait inside has its own timeout
OPENSSL_TIMEOUT = 10


def openssl(*args, stdin=None, cwd=None):
    """Runs `openssl args...`; returns its stdout (bytes). Raises with its stderr on failure."""
    exe = os.environ.get("OPENSSL") or shutil.which("openssl")
    p = subprocess.run([exe] + list(args), input=stdin, cwd=cwd, capture_output=True,
                       timeout=OPENSSL_TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: exit {p.returncode}: "
                           f"{p.stderr.decode(errors='replace').strip()}")
    return p.stdout


def make_pki(folder):
    """The certificates and keys of the test in `folder`; returns their paths by name and
    "spki", the base64 SHA-256 of the server certificate's public key (Chromium's pin)."""
    paths = {}
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def ca(name, cn):
        paths[name] = os.path.join(folder, f"{name}.pem")
        paths[f"{name}_key"] = os.path.join(folder, f"{name}.key")
        openssl("req", "-x509", *new_key, "-keyout", paths[f"{name}_key"], "-days", "2",
                "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", paths[name])

    def leaf(name, issuer, cn, extensions):
        paths[name] = os.path.join(folder, f"{name}.pem")
        paths[f"{name}_key"] = os.path.join(folder, f"{name}.key")
        csr = openssl("req", "-new", *new_key, "-keyout", paths[f"{name}_key"],
                      "-subj", f"/CN={cn}")
        ext = os.path.join(folder, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n" + extensions)
        openssl("x509", "-req", "-CA", paths[issuer], "-CAkey", paths[f"{issuer}_key"],
                "-set_serial", f"0x{secrets.token_hex(8)}", "-days", "2", "-extfile", ext,
                "-out", paths[name], stdin=csr)

    server_ext = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    client_ext = "extendedKeyUsage=clientAuth\n"
    ca("ca", "ringmq test CA")
    leaf("server", "ca", "localhost", server_ext)
    leaf("client", "ca", "tls-test-client", client_ext)
    ca("other_ca", "ringmq other CA")
    leaf("other_server", "other_ca", "localhost", server_ext)
    leaf("other_client", "other_ca", "tls-test-client", client_ext)

    # openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary
    spki = openssl("pkey", "-pubin", "-outform", "der",
                   stdin=openssl("x509", "-in", paths["server"], "-pubkey", "-noout"))
    digest = openssl("dgst", "-sha256", "-binary", stdin=spki)
    paths["spki"] = base64.b64encode(digest).decode()
    return paths


def missing_tools():
    notes = browser_test.missing_tools()
    if not (os.environ.get("OPENSSL") or shutil.which("openssl")):
        notes.append("no `openssl` on PATH (Debian package openssl)")
    return notes


def listen_with(address, **overrides):
    """`address` with per-listener TLS settings after '?', the values percent-encoded."""
    return address + "?" + "&".join(f"{k}={urllib.parse.quote(v, safe='/')}"
                                    for k, v in overrides.items())


def main():
    rc = skip_or_fail(NAME, missing_tools())
    if rc is not None:
        return rc

    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="ringmq-tls-")
    try:
        pki = make_pki(folder)
        extra_args = [
            "--config", write_http_root(folder),
            "--tls-cert", pki["server"], "--tls-key", pki["server_key"],
            "--listen", "mqtts://127.0.0.1:0",
            "--listen", "wss://127.0.0.1:0",
            "--listen", listen_with("mqtts://127.0.0.1:0", client_certs="require", ca=pki["ca"]),
            "--listen", listen_with("wss://127.0.0.1:0", cert=pki["other_server"],
                                    key=pki["other_server_key"]),
        ]

        def body(broker):
            # In --listen order (interop.Broker adds a plain mqtt listener first).
            mqtts = [port for proto, port in broker.listening if proto == "mqtts"]
            wss = [port for proto, port in broker.listening if proto == "wss"]
            if len(mqtts) != 2 or len(wss) != 2 or "mqtt" not in broker.ports:
                print(f"FAIL {NAME}: expected an mqtt, two mqtts and two wss listeners, the "
                      f"broker printed {broker.listening}", flush=True)
                return 1
            settings = dict(pki, mqtt=broker.ports["mqtt"], mqtts=mqtts[0], wss=wss[0],
                            mtls=mqtts[1], other_wss=wss[1],
                            chromium=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
            return run_driver(NAME, [os.path.join(HERE, "tls_test.mjs"), json.dumps(settings)],
                              NODE_TIMEOUT)

        # Debug: the broker's reasons for refused handshakes, in the log printed on a failure.
        rc = with_broker(NAME, extra_args, body, log_level="debug")
    except (RuntimeError, subprocess.TimeoutExpired) as e:  # openssl
        print(f"FAIL {NAME}: making the certificates: {e}", flush=True)
        rc = 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{NAME}: {'passed' if rc == 0 else 'FAILED'} in {time.monotonic() - started:.1f} s",
          flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
