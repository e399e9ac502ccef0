#!/usr/bin/env python3
"""Locked or broken databases: each gives a clear message and does no damage.

- another process holds the write lock longer than the busy timeout (5 s) while the daemon runs:
  submits get 507 storage_error saying the database is locked, reads go on, and submits work
  again once the lock is released;
- the same lock held while the daemon starts: it exits 74 with the same message;
- a state directory whose jobs.db is not SQLite: exit 74, a message that says so, the file
  unchanged;
- a database written by a newer jobq (a migration this binary does not carry): exit 74, a
  message that names it, the file unchanged.

    scripts/reliability/db_faults.py
"""

import hashlib
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, integrity  # noqa: E402


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class WriteLock:
    """A connection of our own holding BEGIN IMMEDIATE (SQLite's write lock) until released."""

    def __init__(self, db):
        self.connection = sqlite3.connect(db, isolation_level=None, timeout=30)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self):
        self.connection.execute("ROLLBACK")
        self.connection.close()


def refused_start(results, work, state, what, expect_text):
    """Starts jobqd on `state`, expecting it to refuse: exit 74 and `expect_text` in its log."""
    daemon = work.daemon(state_dir=state, log_name=f"{what}.log")
    daemon.start(expect_ready=False)
    try:
        status = daemon.process.wait(60)
    except Exception:
        daemon.kill9()
        status = None
    log = daemon.log_tail()
    results.check(f"{what}: jobqd exits 74 (EX_IOERR)", status == 74, f"exit {status}; {log.strip()}")
    results.check(f"{what}: its message says why", expect_text in log, log.strip())
    return log


def main(results):
    with Workdir("dbfaults") as work:
        state = os.path.join(work.path, "state")
        daemon = work.daemon(state_dir=state)
        daemon.start()
        client = Client(daemon.socket)
        status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "q"})
        results.check("a submit before the lock is stored", status == 201, f"{status} {answer}")
        db = os.path.join(state, "jobs.db")

        lock = WriteLock(db)
        try:
            status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "q"})
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            results.check("a submit while another process holds the write lock past the busy timeout gets 507 storage_error",
                          status == 507 and error.get("code") == "storage_error", f"{status} {answer}")
            results.check("its message says the database is locked", "locked" in error.get("message", ""), f"{error}")
            status, body = client.request("GET", "/v1/jobs")
            results.check("reads are served while it is locked", status == 200 and len(body["jobs"]) == 1,
                          f"{status} {body}")
        finally:
            lock.release()
        status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "q"})
        results.check("once the lock is released, submits are stored again", status == 201, f"{status} {answer}")
        status, body = client.request("GET", "/v1/jobs")
        results.check("the refused submit stored nothing", status == 200 and len(body["jobs"]) == 2,
                      f"{len(body.get('jobs', []))} jobs")
        client.close()
        results.check("the daemon stops cleanly", daemon.stop() == 0)

        lock = WriteLock(db)
        try:
            refused_start(results, work, state, "locked at start", "locked")
        finally:
            lock.release()
        results.check("the locked database is sound afterwards", integrity(state) == ["ok"])
        daemon = work.daemon(state_dir=state, log_name="after-lock.log")
        daemon.start()
        client = Client(daemon.socket)
        status, body = client.request("GET", "/v1/jobs")
        results.check("a daemon started after the lock is gone finds both jobs", status == 200 and len(body["jobs"]) == 2)
        client.close()
        daemon.stop()

        # A database from a newer jobq: a migration this binary does not carry.
        newer = os.path.join(work.path, "newer")
        os.makedirs(newer, mode=0o700)
        with open(db, "rb") as source, open(os.path.join(newer, "jobs.db"), "wb") as copy:
            copy.write(source.read())
        connection = sqlite3.connect(os.path.join(newer, "jobs.db"), isolation_level=None)
        connection.execute("INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ('9999_from_the_future.sql', 'x', 0)")
        connection.close()
        before = digest(os.path.join(newer, "jobs.db"))
        refused_start(results, work, newer, "a newer jobq's database", "9999_from_the_future.sql")
        results.check("a newer jobq's database: the file is unchanged", digest(os.path.join(newer, "jobs.db")) == before)

        # Not a database at all.
        garbage = os.path.join(work.path, "garbage")
        os.makedirs(garbage, mode=0o700)
        with open(os.path.join(garbage, "jobs.db"), "wb") as f:
            f.write(b"this is not an SQLite database, it is a text file\n" * 100)
        before = digest(os.path.join(garbage, "jobs.db"))
        refused_start(results, work, garbage, "a file that is not SQLite", "not a database")
        results.check("a file that is not SQLite: unchanged, nothing created beside it",
                      digest(os.path.join(garbage, "jobs.db")) == before
                      and not os.path.exists(os.path.join(garbage, "jobs.db-wal")), f"{os.listdir(garbage)}")


if __name__ == "__main__":
    run("db-faults", main)
