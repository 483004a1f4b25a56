#!/usr/bin/python3
"""ringmq-store (tools/ringmq_store) against store files made here with Python's sqlite3.

The tables come from the schema's own migration steps, read out of
persistence/sqlite/schema.cc, so the files have exactly the broker's layout at every version.
Each test fills a store with records of every kind, runs one command and checks its output
and exit status (0 ok, 1 problem found, 2 usage or open error). The store is never written by
the tool: the tests compare the file before and after.

Environment: RINGMQ_STORE (the tool), RINGMQ_SCHEMA_CC (persistence/sqlite/schema.cc).
"""

import fcntl
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

TOOL = os.environ.get("RINGMQ_STORE", "build/tools/ringmq_store/ringmq-store")
SCHEMA_CC = os.environ.get("RINGMQ_SCHEMA_CC", "persistence/sqlite/schema.cc")

NEVER = 4294967295
T_OFFLINE = 1714564800123  # 2024-05-01T12:00:00.123Z
T_COMMIT = 1714568400000  # 2024-05-01T13:00:00.000Z


def schema_steps():
    """The SQL of each migration step (kSteps in schema.cc): step i migrates i to i + 1."""
    with open(SCHEMA_CC, encoding="utf-8") as f:
        text = f.read()
    body = text[text.index("kSteps[] = {"):]
    body = body[body.index("{") + 1:body.index("\n};")]
    # Whole-line comments only: the SQL itself contains no "//".
    body = "\n".join(ln for ln in body.splitlines() if not ln.strip().startswith("//"))
    steps, current = [], []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|,', body):
        if m.group(0) == ",":
            steps.append("".join(current))
            current = []
        else:
            current.append(m.group(1).encode().decode("unicode_escape"))
    if current:
        steps.append("".join(current))
    return steps


STEPS = schema_steps()
SCHEMA_VERSION = len(STEPS)


def make_store(directory, version=SCHEMA_VERSION):
    """An empty store at `version`, in WAL mode like the broker's; returns ringmq.db's path."""
    path = os.path.join(directory, "ringmq.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for i in range(version):
        db.executescript("BEGIN; %s PRAGMA user_version = %d; COMMIT;" % (STEPS[i], i + 1))
    db.close()
    return path


def fill(path):
    """Records of every kind: three sessions (one with an id that needs escaping), a will,
    subscriptions with packed options, shared and single bodies, queued, in-flight and
    released deliveries, unreleased ids and retained messages."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    sessions = [
        (b"alpha", 5, NEVER, T_OFFLINE),
        (b"beta", 4, 3600, None),
        (b"gam ma\x01", 3, 0, T_OFFLINE),
    ]
    db.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?)", sessions)
    db.execute("INSERT INTO wills VALUES (?, ?, ?, ?, 1, 0, 10, 0, 0)",
               (b"alpha", b"will/topic", b"bye", b""))
    # options: QoS 2 | no local | retain handling 2, and plain QoS 1.
    db.executemany("INSERT INTO subscriptions VALUES (?, ?, ?, ?)", [
        (b"alpha", b"a/#", 2 | 4 | (2 << 4), 7),
        (b"alpha", b"b/+", 1, 0),
        (b"beta", b"a/#", 1, 0),
    ])
    # Message 1 is queued for alpha and beta (one body, refs 2); 2..4 for alpha only.
    db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (1, 101, 2, b"a/1", b"x" * 10, b"", 1, 0, 0),
        (2, 102, 1, b"a/2", b"y", b"", 2, 0, T_COMMIT + 60000),
        (3, 103, 1, b"a/3", b"z", b"", 2, 0, 0),
        (4, 104, 1, b"b/4", b"w", b"", 1, 1, 0),
    ])
    db.executemany("INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?)", [
        (b"alpha", 1, 1, 1, 0, 0, 0),  # queued
        (b"alpha", 2, 2, 2, 0, 0, 0),  # queued
        (b"alpha", 3, 3, 2, 0, 17, 1),  # in flight, past PUBREC
        (b"alpha", 4, 4, 1, 0, 18, 0),  # in flight
        (b"beta", 1, 1, 1, 0, 0, 0),  # queued
    ])
    db.executemany("INSERT INTO unreleased VALUES (?, ?)", [(b"alpha", 5), (b"gam ma\x01", 9)])
    db.executemany("INSERT INTO retained VALUES (?, ?, ?, ?, ?)", [
        (b"r/1", b"on", b"", 1, 0),
        (b"r/2", b"off", b"", 0, T_COMMIT + 1000),
    ])
    if SCHEMA_VERSION >= 2:
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_commit_ms'", (T_COMMIT,))
    db.execute("COMMIT")
    db.close()


def run(*args):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def rows(path):
    """Every row of every table, for comparing two stores."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
    out = {t: sorted(db.execute("SELECT * FROM %s" % t).fetchall()) for t in tables}
    out["user_version"] = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    return out


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ringmq-store-test-")
        self.dir = os.path.join(self.tmp, "data")
        os.mkdir(self.dir)
        self.db = make_store(self.dir)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def field(self, out, label):
        m = re.search(r"^%s:\s+(.*)$" % re.escape(label), out, re.M)
        self.assertIsNotNone(m, "no %r line in:\n%s" % (label, out))
        return m.group(1)

    def corrupt_refs(self):
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("UPDATE messages SET refs = 5 WHERE id = 1")
        db.close()


class InfoTest(StoreTest):
    def test_counts_version_sizes_and_commit_time(self):
        fill(self.db)
        rc, out, err = run("info", self.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.field(out, "schema version"), "%d (current)" % SCHEMA_VERSION)
        expected = {"sessions": 3, "subscriptions": 3, "queued": 3, "in flight": 2,
                    "stored bodies": 4, "unreleased": 2, "retained": 2}
        for label, n in expected.items():
            self.assertEqual(self.field(out, label), str(n), out)
        self.assertEqual(self.field(out, "last commit"), "2024-05-01T13:00:00.000Z")
        self.assertEqual(self.field(out, "ringmq.db"), "%d bytes" % os.path.getsize(self.db))
        self.assertEqual(self.field(out, "ringmq.db-wal"), "none")
        self.assertIn("not running (no ", self.field(out, "broker"))

    def test_lock_file(self):
        lock = os.path.join(self.dir, "lock")
        with open(lock, "w") as f:
            rc, out, _ = run("info", self.dir)
            self.assertEqual(rc, 0)
            self.assertIn("is free", self.field(out, "broker"))
            # flock locks conflict between open files, even within one process.
            fcntl.flock(f, fcntl.LOCK_EX)
            rc, out, _ = run("info", self.dir)
            self.assertEqual(rc, 0)
            self.assertEqual(self.field(out, "broker"), "in use by a running broker")
            # The broker writes its pid into the file.
            f.write("4242\n")
            f.flush()
            rc, out, _ = run("info", self.dir)
            self.assertEqual(self.field(out, "broker"), "in use by a running broker (pid 4242)")

    def test_never_writes_the_store(self):
        fill(self.db)
        before = digest(self.db)
        for args in (["info"], ["sessions"], ["check"], ["check", "--full"]):
            rc, _, err = run(args[0], self.dir, *args[1:])
            self.assertEqual(rc, 0, err)
        self.assertEqual(digest(self.db), before)

    def test_missing_store_is_not_created(self):
        os.remove(self.db)
        for cmd in ("info", "sessions", "check"):
            rc, _, err = run(cmd, self.dir)
            self.assertEqual(rc, 2, cmd)
            self.assertIn(self.db, err)
            self.assertIn("nothing was created", err)
        self.assertFalse(os.path.exists(self.db))
        rc, _, err = run("info", os.path.join(self.tmp, "nope"))
        self.assertEqual(rc, 2)
        self.assertIn("no such directory", err)

    def test_newer_version_is_refused(self):
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("PRAGMA user_version = 99")
        db.close()
        for cmd in ("info", "sessions", "check"):
            rc, out, err = run(cmd, self.dir)
            self.assertEqual(rc, 2, cmd)
            self.assertEqual(out, "")
            self.assertIn(self.db, err)
            self.assertIn("schema version 99 was written by a newer ringmq", err)
        rc, _, err = run("backup", self.dir, os.path.join(self.tmp, "b.db"))
        self.assertEqual(rc, 2)
        self.assertIn("newer ringmq", err)

    def test_older_version_shows_what_it_has(self):
        os.remove(self.db)
        make_store(self.dir, version=1)
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("INSERT INTO sessions VALUES (?, 4, 60)", (b"old",))
        db.close()
        rc, out, err = run("info", self.dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("migrates it on its next start", self.field(out, "schema version"))
        self.assertEqual(self.field(out, "sessions"), "1")
        self.assertIn("unknown", self.field(out, "last commit"))
        rc, out, err = run("sessions", self.dir)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^old\s+3\.1\.1\s+60s\s+\?\s+0\s+0\s+0\s+0\s+no$")
        rc, out, _ = run("check", self.dir)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.endswith("ok\n"), out)

    def test_version_zero(self):
        os.remove(self.db)
        make_store(self.dir, version=0)
        rc, out, err = run("info", self.dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("no tables yet", self.field(out, "schema version"))
        self.assertIn("no sessions table", self.field(out, "sessions"))
        rc, out, _ = run("sessions", self.dir)
        self.assertEqual(rc, 0)
        self.assertIn("no sessions table", out)

    def test_usage(self):
        self.assertEqual(run()[0], 2)
        self.assertEqual(run("frob", self.dir)[0], 2)
        self.assertEqual(run("info")[0], 2)
        self.assertEqual(run("sessions", self.dir, "--limit", "x")[0], 2)
        self.assertEqual(run("check", self.dir, "--fast")[0], 2)
        self.assertEqual(run("--help")[0], 0)


class SessionsTest(StoreTest):
    def test_lines_sorted_by_queue_depth(self):
        fill(self.db)
        rc, out, err = run("sessions", self.dir)
        self.assertEqual(rc, 0, err)
        lines = [ln.split() for ln in out.splitlines()]
        self.assertEqual(lines[0], ["client", "version", "expiry", "state", "subs", "queued",
                                    "inflight", "unreleased", "will"])
        self.assertEqual(lines[1], ["alpha", "5.0", "never", "offline", "since",
                                    "2024-05-01T12:00:00.123Z", "2", "2", "2", "1", "yes"])
        self.assertEqual(lines[2], ["beta", "3.1.1", "3600s", "online", "1", "1", "0", "0",
                                    "no"])
        self.assertEqual(lines[3][:3], ["gam\\x20ma\\x01", "3.1", "0s"])
        self.assertEqual(lines[3][-5:], ["0", "0", "0", "1", "no"])
        self.assertEqual(len(lines), 4)

    def test_limit(self):
        fill(self.db)
        rc, out, _ = run("sessions", self.dir, "--limit", "1")
        self.assertEqual(rc, 0)
        self.assertEqual(len(out.splitlines()), 3, out)
        self.assertIn("1 of 3 sessions shown", out)
        rc, out, _ = run("sessions", self.dir, "--limit", "0")
        self.assertEqual(len(out.splitlines()), 4, out)


class CheckTest(StoreTest):
    def test_ok(self):
        fill(self.db)
        for args in ([], ["--full"]):
            rc, out, err = run("check", self.dir, *args)
            self.assertEqual((rc, out), (0, "ok\n"), err)

    def test_refs_mismatch(self):
        fill(self.db)
        self.corrupt_refs()
        rc, out, _ = run("check", self.dir)
        self.assertEqual(rc, 1, out)
        self.assertIn("message 1 has refs 5 but 2 deliveries hold it", out)
        self.assertIn("1 problem(s) found", out)
        self.assertIn(self.db, out)

    def test_records_without_their_session_or_body(self):
        fill(self.db)
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("INSERT INTO deliveries VALUES (?, 1, 42, 1, 0, 0, 0)", (b"ghost",))
        db.execute("INSERT INTO subscriptions VALUES (?, ?, 1, 0)", (b"ghost", b"t"))
        db.execute("INSERT INTO unreleased VALUES (?, 3)", (b"ghost",))
        db.execute("INSERT INTO wills VALUES (?, ?, ?, ?, 1, 0, 0, 0, 0)",
                   (b"ghost", b"t", b"", b""))
        db.execute("INSERT INTO messages VALUES (9, 109, 0, 't', '', '', 1, 0, 0)")
        db.close()
        rc, out, _ = run("check", self.dir)
        self.assertEqual(rc, 1, out)
        for text in ("delivery 1 of ghost names message 42, which is not stored",
                     "1 deliveries of ghost, which has no session",
                     "1 subscriptions of ghost, which has no session",
                     "1 unreleased packet ids of ghost, which has no session",
                     "the will of ghost, which has no session",
                     "message 9 (refs 0) is held by no delivery"):
            self.assertIn(text, out)

    def test_values_the_broker_never_writes(self):
        fill(self.db)
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("UPDATE sessions SET version = 7 WHERE client = ?", (b"beta",))
        db.execute("INSERT INTO subscriptions VALUES (?, ?, ?, 0)", (b"beta", b"bad", 0xC1))
        db.execute("UPDATE deliveries SET released = 1 WHERE client = ? AND seq = 4",
                   (b"alpha",))
        db.execute("UPDATE deliveries SET packet_id = 17 WHERE client = ? AND seq = 2",
                   (b"alpha",))
        db.execute("INSERT INTO unreleased VALUES (?, 0)", (b"beta",))
        db.close()
        rc, out, _ = run("check", self.dir)
        self.assertEqual(rc, 1, out)
        for text in ("session beta has protocol version 7",
                     "subscription bad of beta has invalid options 0xc1",
                     "delivery 4 of alpha has qos 1, packet id 18, released 1",
                     "packet id 17 of alpha is in flight for 2 messages",
                     "unreleased packet id 0 of beta is out of range",
                     "5 problem(s) found"):
            self.assertIn(text, out)

    def test_many_problems_are_summarised(self):
        fill(self.db)
        db = sqlite3.connect(self.db, isolation_level=None)
        db.executemany("INSERT INTO subscriptions VALUES (?, 't', 1, 0)",
                       [(b"g%d" % i,) for i in range(15)])
        db.close()
        rc, out, _ = run("check", self.dir)
        self.assertEqual(rc, 1)
        self.assertIn("... and 5 more like it", out)

    def test_corrupted_file(self):
        fill(self.db)
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("BEGIN")
        # Many small rows (no overflow pages, no free pages): every page is a b-tree page.
        db.executemany("INSERT INTO retained VALUES (?, ?, '', 0, 0)",
                       [(b"t/%06d" % i, b"p" * 40) for i in range(20000)])
        db.execute("COMMIT")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.close()  # the last connection checkpoints: everything is in ringmq.db
        self.assertGreater(pages, 50)
        with open(self.db, "r+b") as f:
            f.seek((pages // 2) * page)
            f.write(b"\xa5" * (2 * page))
        for args in ([], ["--full"]):
            rc, out, err = run("check", self.dir, *args)
            self.assertEqual(rc, 1, out + err)
            self.assertIn("problem(s) found", out)


class BackupTest(StoreTest):
    def dest(self, name="backup.db"):
        return os.path.join(self.tmp, name)

    def test_copy_equals_source_and_restores(self):
        fill(self.db)
        rc, out, err = run("backup", self.dir, self.dest())
        self.assertEqual(rc, 0, err)
        self.assertIn("schema version %d, quick_check ok" % SCHEMA_VERSION, out)
        self.assertIn("%d bytes" % os.path.getsize(self.dest()), out)
        self.assertIn("to restore: stop the broker", out)
        # Nothing left beside it: no temporary copy, no -wal or -shm.
        self.assertEqual(sorted(os.listdir(self.tmp)), ["backup.db", "data"])
        self.assertEqual(rows(self.dest()), rows(self.db))
        # Restoring: the copy as ringmq.db of a directory of its own.
        restored = os.path.join(self.tmp, "restored")
        os.mkdir(restored)
        shutil.copy(self.dest(), os.path.join(restored, "ringmq.db"))
        rc, out, _ = run("check", restored)
        self.assertEqual((rc, out), (0, "ok\n"))

    def test_refuses_to_overwrite(self):
        fill(self.db)
        with open(self.dest(), "w") as f:
            f.write("keep me")
        rc, _, err = run("backup", self.dir, self.dest())
        self.assertEqual(rc, 2)
        self.assertIn(self.dest(), err)
        self.assertIn("already exists", err)
        with open(self.dest()) as f:
            self.assertEqual(f.read(), "keep me")

    def test_missing_source(self):
        os.remove(self.db)
        rc, _, err = run("backup", self.dir, self.dest())
        self.assertEqual(rc, 2)
        self.assertIn("no such file", err)
        self.assertFalse(os.path.exists(self.dest()))
        self.assertFalse(os.path.exists(self.db))

    def test_while_a_writer_keeps_writing(self):
        fill(self.db)
        # A store of several backup steps (1024 pages each).
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("BEGIN")
        db.executemany("INSERT INTO retained VALUES (?, ?, '', 0, 0)",
                       [(b"big/%05d" % i, os.urandom(1000)) for i in range(12000)])
        db.execute("COMMIT")
        db.close()

        holding = threading.Event()
        stop = threading.Event()
        commits = [0]

        def writer():
            # Like the broker: one session's queue grows, one body per delivery (refs 1),
            # and a write transaction is open most of the time.
            w = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
            w.execute("PRAGMA busy_timeout = 5000")
            seq = 100
            while not stop.is_set():
                w.execute("BEGIN IMMEDIATE")
                for _ in range(20):
                    seq += 1
                    w.execute("INSERT INTO messages VALUES (?, ?, 1, ?, ?, ?, 1, 0, 0)",
                              (1000 + seq, seq, b"w", os.urandom(200), b""))
                    w.execute("INSERT INTO deliveries VALUES (?, ?, ?, 1, 0, 0, 0)",
                              (b"beta", seq, 1000 + seq))
                holding.set()
                time.sleep(0.005)
                w.execute("COMMIT")
                commits[0] += 1
            w.close()

        t = threading.Thread(target=writer)
        t.start()
        try:
            self.assertTrue(holding.wait(10))
            before = commits[0]
            start = time.monotonic()
            rc, out, err = run("backup", self.dir, self.dest())
            elapsed = time.monotonic() - start
            during = commits[0] - before
        finally:
            stop.set()
            t.join()
        self.assertEqual(rc, 0, err)
        self.assertLess(elapsed, 20)
        self.assertGreater(during, 0, "the writer was blocked during the backup")
        # The copy is one consistent snapshot: its own invariants hold.
        restored = os.path.join(self.tmp, "restored")
        os.mkdir(restored)
        shutil.copy(self.dest(), os.path.join(restored, "ringmq.db"))
        rc, out, _ = run("check", restored, "--full")
        self.assertEqual((rc, out), (0, "ok\n"))
        copy = rows(self.dest())
        self.assertEqual(len(copy["retained"]), 12002)
        # Whole transactions only: the writer commits 20 deliveries at a time.
        written = [d for d in copy["deliveries"] if d[0] == b"beta" and d[1] > 100]
        self.assertEqual(len(written) % 20, 0, len(written))
        if os.environ.get("RINGMQ_STORE_TEST_VERBOSE"):
            print("backup: %.2f s, %d commits during it, %d of them in the copy"
                  % (elapsed, during, len(written) // 20))


if __name__ == "__main__":
    unittest.main(verbosity=2)
