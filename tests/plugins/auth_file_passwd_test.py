#!/usr/bin/python3
"""ringmq-passwd (plugins/auth_file) end to end: add, change, delete, list and check with --stdin,
the file's lines, mode and other contents kept, errors and exit codes (0 done, 1 refused or
failed, 2 usage). Every written line is verified with libsodium itself (through ctypes), so the
file is what the plugin (and crypto_pwhash_str_verify) expects.

Environment: RINGMQ_PASSWD, the tool's path (meson sets it). Standard library only.
"""

import ctypes
import ctypes.util
import os
import stat
import subprocess
import sys
import tempfile

TOOL = os.environ.get("RINGMQ_PASSWD", "")
CHEAP = ["--opslimit", "1", "--memlimit", "8K"]  # libsodium's minimum cost: fast tests

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
if _sodium.sodium_init() < 0:
    raise SystemExit("sodium_init failed")
_sodium.crypto_pwhash_str_verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print(f"FAIL: {message}", flush=True)


def verifies(hash_str, password):
    pw = password.encode()
    return _sodium.crypto_pwhash_str_verify(hash_str.encode(), pw, len(pw)) == 0


def run(*args, password=None, new_session=False):
    """Runs the tool; `password` is fed on stdin (with --stdin added)."""
    argv = [TOOL] + (["--stdin"] if password is not None else []) + list(args)
    p = subprocess.run(argv, input=(password + "\n").encode() if password is not None else None,
                       stdin=None if password is not None else subprocess.DEVNULL,
                       capture_output=True, start_new_session=new_session, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def users(path):
    """user -> hash, from the file as written."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, h = line.rpartition(":")
                out[name] = h
    return out


def main():
    if not TOOL or not os.access(TOOL, os.X_OK):
        raise SystemExit(f"RINGMQ_PASSWD={TOOL!r} is not an executable")
    d = tempfile.mkdtemp(prefix="ringmq-passwd-test-")
    pw = os.path.join(d, "passwords")

    # add: creates the file, mode 0600, an argon2id line libsodium verifies.
    rc, _, err = run(pw, "add", "alice", *CHEAP, password="alice-pw")
    check(rc == 0, f"add alice: exit {rc}, {err}")
    check(stat.S_IMODE(os.stat(pw).st_mode) == 0o600, "new file mode is 0600")
    u = users(pw)
    check(u.get("alice", "").startswith("$argon2id$v=19$m=8,t=1,p=1$"), f"alice's line: {u}")
    check(verifies(u["alice"], "alice-pw"), "alice's hash verifies with libsodium")
    check(not verifies(u["alice"], "alice-pwx"), "a wrong password does not verify")

    # Default cost: libsodium's INTERACTIVE limits (64 MiB, 2 passes).
    rc, _, err = run(pw, "add", "bob", password="bob-pw")
    check(rc == 0, f"add bob: exit {rc}, {err}")
    check(users(pw)["bob"].startswith("$argon2id$v=19$m=65536,t=2,p=1$"), "bob at the default cost")
    check(verifies(users(pw)["bob"], "bob-pw"), "bob's hash verifies")

    # Hand-written comments and blank lines survive every rewrite, byte for byte.
    with open(pw) as f:
        body = f.read()
    with open(pw, "w") as f:
        f.write("# broker users\n\n" + body + "   # trailing comment\n")
    os.chmod(pw, 0o640)
    with open(pw) as f:
        before = f.read().splitlines(keepends=True)

    rc, _, err = run(pw, "add", "alice", *CHEAP, password="again")
    check(rc == 1 and "already" in err, f"add of an existing user refused: {rc} {err}")

    rc, _, err = run(pw, "change", "alice", *CHEAP, password="new-pw")
    check(rc == 0, f"change alice: exit {rc}, {err}")
    check(verifies(users(pw)["alice"], "new-pw"), "alice's new password verifies")
    check(not verifies(users(pw)["alice"], "alice-pw"), "alice's old password no longer does")
    with open(pw) as f:
        after = f.read().splitlines(keepends=True)
    check(len(after) == len(before) and
          all(a == b for a, b in zip(after, before) if not a.startswith("alice:")),
          f"change keeps every other line:\n{before}\n{after}")
    check(stat.S_IMODE(os.stat(pw).st_mode) == 0o640, "change keeps the file's mode")

    rc, out, err = run(pw, "list")
    check(rc == 0 and out == "alice\nbob\n", f"list: {rc} {out!r} {err}")

    rc, out, _ = run(pw, "check", "alice", password="new-pw")
    check(rc == 0 and out.startswith("ok ("), f"check with the right password: {rc} {out!r}")
    rc, out, _ = run(pw, "check", "alice", password="alice-pw")
    check(rc == 1 and out.startswith("wrong password"), f"check with a wrong one: {rc} {out!r}")
    rc, out, _ = run(pw, "check", "nobody", password="x")
    check(rc == 1, f"check of an unknown user: {rc} {out!r}")

    rc, _, err = run(pw, "delete", "bob")
    check(rc == 0, f"delete bob: {rc} {err}")
    check(set(users(pw)) == {"alice"}, f"bob is gone: {users(pw)}")
    with open(pw) as f:
        text = f.read()
    check(text.startswith("# broker users\n\nalice:") and text.endswith("   # trailing comment\n"),
          f"delete keeps comments: {text!r}")

    # Refusals (exit 1) and usage errors (exit 2); the file is left as it was.
    for args, password, code, words in [
        ((pw, "change", "nobody"), "x", 1, "no user 'nobody'"),
        ((pw, "delete", "nobody"), None, 1, "no user 'nobody'"),
        ((os.path.join(d, "missing"), "delete", "a"), None, 1, "No such file"),
        ((pw, "add", "#root"), "x", 1, "starts with '#'"),
        ((pw, "add", " carol"), "x", 1, "blank"),
        ((pw, "add", "carol"), "", 1, "empty password"),
        ((), None, 2, "expected FILE and COMMAND"),
        ((pw, "rename", "a"), None, 2, "unknown command"),
        ((pw, "add"), None, 2, "needs exactly one USER"),
        ((pw, "list", "x"), None, 2, "list takes no USER"),
        ((pw, "add", "carol", "--memlimit", "1K"), "x", 2, "--memlimit must be"),
        ((pw, "add", "carol", "--opslimit", "x"), "x", 2, "--opslimit needs a number"),
        ((pw, "add", "carol", "--bogus"), "x", 2, "unknown option --bogus"),
    ]:
        rc, _, err = run(*args, password=password)
        check(rc == code and words in err, f"{args}: expected exit {code} with {words!r}, got "
                                            f"{rc}: {err.strip()}")
    check(set(users(pw)) == {"alice"}, "refusals left the file alone")

    # Without --stdin and without a terminal: a clear error, not a hang.
    rc, _, err = run(pw, "change", "alice", new_session=True)
    check(rc == 1 and "use --stdin" in err, f"no terminal: {rc} {err}")

    # A malformed file is reported with FILE:LINE and not rewritten.
    bad = os.path.join(d, "bad")
    with open(bad, "w") as f:
        f.write("# x\nnot a user line\n")
    rc, _, err = run(bad, "add", "dave", *CHEAP, password="x")
    check(rc == 1 and f"{bad}:2:" in err, f"malformed file: {rc} {err}")
    with open(bad) as f:
        check(f.read() == "# x\nnot a user line\n", "the malformed file is untouched")

    leftovers = [n for n in os.listdir(d) if ".tmp." in n]
    check(not leftovers, f"no temporary files left: {leftovers}")

    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        return 1
    print("all ringmq-passwd checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
