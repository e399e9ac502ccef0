"""Shared pieces of the reliability scripts: the real jobqd on a temporary socket and state
directory, started with a readiness signal (sd_notify READY=1 on a datagram socket of ours, no
sleeps), an HTTP/1.1 client on its Unix socket, and the "N passed, N failed" summary.

Every script talks only to a daemon it started itself, and removes what it created (temporary
directories, mounts, users) on the way out, also when a check fails or it is interrupted.
"""

import datetime
import http.client
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def bin_dir():
    """Where jobqd and jobq are: $JOBQ_BIN_DIR, else `swift build --show-bin-path` (debug)."""
    path = os.environ.get("JOBQ_BIN_DIR")
    if not path:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = subprocess.run(["swift", "build", "--show-bin-path"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
    for name in ("jobqd", "jobq"):
        if not os.access(os.path.join(path, name), os.X_OK):
            sys.exit(f"no {name} in {path}: run `swift build` first (or set JOBQ_BIN_DIR)")
    return path


class Results:
    """Counts checks; `summary()` prints `N passed, N failed` and gives the exit status."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            short = detail if len(detail) <= 100 else detail[:97] + "..."
            print(f"  ok    {what}" + (f" ({short})" if short else ""), flush=True)
        else:
            self.failed += 1
            print(f"  FAIL  {what}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def summary(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client on a Unix stream socket (keep-alive like any HTTP/1.1 client)."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Client:
    """One keep-alive connection to the daemon; `request` returns (status, decoded JSON or text)."""

    def __init__(self, path, timeout=30):
        self.path = path
        self.timeout = timeout
        self.conn = None

    def request(self, method, target, body=None):
        if self.conn is None:
            self.conn = UnixHTTPConnection(self.path, self.timeout)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.conn.request(method, target, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except Exception:
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        kind = response.getheader("Content-Type", "")
        return response.status, (json.loads(raw) if "json" in kind and raw else raw.decode(errors="replace"))

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


_notify_numbers = itertools.count()


def _drain(sock):
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass  # closed when the daemon ended


class Daemon:
    """The real jobqd: `start()` returns once it sent READY=1; `kill9()`, `stop()` end it."""

    def __init__(self, workdir, state_dir=None, socket_path=None, args=(), env=None, log_name="jobqd.log"):
        self.workdir = workdir
        self.state_dir = state_dir or os.path.join(workdir, "state")
        self.socket = socket_path or os.path.join(workdir, "jobq.sock")
        self.args = list(args)
        self.env = dict(env or {})
        self.log_path = os.path.join(workdir, log_name)
        self.process = None
        self.notify = None
        self.starts = 0

    def command(self):
        return [os.path.join(bin_dir_cached(), "jobqd"), "--state-dir", self.state_dir,
                "--socket", self.socket] + self.args

    def start(self, timeout=60, expect_ready=True):
        notify_path = os.path.join(self.workdir, f"notify.{os.getpid()}.{next(_notify_numbers)}")
        self.starts += 1
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        os.chmod(notify_path, 0o666)  # a daemon started as another user (schemathesis_run.py) sends too
        # Kept until the daemon ends: its STATUS= lines keep coming after READY=1.
        self._close_notify()
        self.notify = (notify, notify_path)
        env = dict(os.environ)
        env.update({"NOTIFY_SOCKET": notify_path, "JOBQ_LOG_LEVEL": "warning"})
        env.update(self.env)
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, start_new_session=True)
            if not expect_ready:
                return None
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"jobqd sent no READY=1 in {timeout} s; log: {self.log_tail()}")
                readable, _, _ = select.select([notify], [], [], min(left, 1.0))
                if readable:
                    message = notify.recv(4096).decode(errors="replace")
                    if "READY=1" in message.split("\n"):
                        # the STATUS= lines that follow are read and dropped, as systemd would
                        threading.Thread(target=_drain, args=(notify,), daemon=True).start()
                        return self.process.pid
                elif self.process.poll() is not None:
                    raise RuntimeError(f"jobqd exited with {self.process.returncode} before READY=1; log: {self.log_tail()}")
        except BaseException:
            self._close_notify()
            raise
        finally:
            log.close()

    def _close_notify(self):
        if self.notify:
            sock, path = self.notify
            self.notify = None
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the drain thread's recv
            except OSError:
                pass
            sock.close()
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def kill9(self):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._close_notify()

    def stop(self, timeout=60):
        """SIGTERM (drain) and wait; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"  jobqd did not stop within {timeout} s of SIGTERM; its log ends:\n{self.log_tail()}", flush=True)
                if os.environ.get("JOBQ_HANG_BACKTRACE"):
                    out = subprocess.run(["gdb", "-p", str(self.process.pid), "-batch", "-ex", "thread apply all bt"],
                                         capture_output=True, text=True)
                    with open(os.environ["JOBQ_HANG_BACKTRACE"], "w") as f:
                        f.write(out.stdout + out.stderr)
                self.kill9()
        self._close_notify()
        return self.process.returncode

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


_bin_dir = None


def bin_dir_cached():
    global _bin_dir
    if _bin_dir is None:
        _bin_dir = bin_dir()
    return _bin_dir


def jobq(socket_path, *args, user=None, stdin=None, timeout=120):
    """Runs the real `jobq` client; returns the CompletedProcess (text)."""
    command = [os.path.join(bin_dir_cached(), "jobq"), "--socket", socket_path] + list(args)
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] + command
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)


def sqlite(db, sql):
    """The sqlite3 shell on the store (after the daemon stopped): the output's lines."""
    out = subprocess.run(["sqlite3", "-batch", db, sql], check=True, capture_output=True, text=True).stdout
    return [line for line in out.split("\n") if line]


def integrity(state_dir):
    """PRAGMA integrity_check of the store (the daemon stopped): ["ok"] when sound."""
    db = os.path.join(state_dir, "jobs.db")
    if not os.path.exists(db):
        return [f"no database at {db}"]
    return sqlite(db, "PRAGMA integrity_check;")


class Workdir:
    """A temporary directory removed on exit, whatever happens (daemons in it are killed first)."""

    def __init__(self, prefix, base=None):
        self.path = tempfile.mkdtemp(prefix=f"jobq-{prefix}.", dir=base)
        os.chmod(self.path, 0o755)
        self.daemons = []
        self.cleanups = []

    def daemon(self, **kwargs):
        d = Daemon(self.path, **kwargs)
        self.daemons.append(d)
        return d

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for d in self.daemons:
            d.kill9()
        for cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as error:  # a failed clean-up must not hide the others
                print(f"  clean-up: {error}", file=sys.stderr)
        if os.environ.get("JOBQ_KEEP"):
            print(f"  kept {self.path} (JOBQ_KEEP)", flush=True)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


def join(client, timeout=300, queue=None):
    """POST /v1/join (or a queue's join): the API's long request that ends once every job is
    terminal; returns True when drained, False at the timeout."""
    target = f"/v1/queues/{queue}/join" if queue else "/v1/join"
    status, body = client.request("POST", target, {"timeout_seconds": timeout})
    if status != 200:
        raise RuntimeError(f"join answered {status}: {body}")
    return body["done"]


def all_jobs(client):
    """Every job, through GET /v1/jobs's keyset pages."""
    jobs, after = [], None
    while True:
        target = "/v1/jobs?limit=1000" + (f"&after={after}" if after else "")
        status, body = client.request("GET", target)
        if status != 200:
            raise RuntimeError(f"list answered {status}: {body}")
        jobs.extend(body["jobs"])
        after = body.get("next_cursor")
        if not after:
            return jobs


def wait_jobs(client, ids, timeout=120):
    """POST /v1/wait for `ids` (the API's long request); returns the jobs by id."""
    status, body = client.request("POST", "/v1/wait", {"ids": ids, "timeout_seconds": timeout})
    if status != 200:
        raise RuntimeError(f"wait answered {status}: {body}")
    return {job["id"]: job for job in body["jobs"]}



def parse_time(text):
    """An RFC 3339 time of the API as seconds since the epoch."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read_run_journal(path):
    """The lines jobs append as they start and end (`start|end ID RUN EPOCH`), by job:
    (starts, ends), each {id: [(run, time)]}."""
    starts, ends = {}, {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                kind, job_id, attempt, at = line.split()
                into = starts if kind == "start" else ends
                into.setdefault(int(job_id), []).append((int(attempt), float(at)))
    return starts, ends


def check_run_journal(results, jobs, starts, skip=()):
    """What every crash loop checks of its journal against the jobs the store holds: every
    succeeded job ran, none started after its success was recorded, none more often than its
    recorded runs. Returns how many jobs started more than once."""
    late, too_many = [], []
    for job_id, runs_of_job in starts.items():
        job = jobs.get(job_id)
        if job is None:
            continue
        if len(runs_of_job) > job["runs"]:
            too_many.append((job_id, len(runs_of_job), job["runs"]))
        if job.get("finished_at") and job["state"] == "succeeded":
            finished = parse_time(job["finished_at"])
            late += [(job_id, at - finished) for _, at in runs_of_job if at > finished + 0.001]
    never = [i for i, j in jobs.items() if i not in skip and j["state"] == "succeeded" and i not in starts]
    results.check("every succeeded job ran", not never, f"{never[:10]}")
    results.check("no job started after it was recorded as succeeded", not late, f"{late[:10]}")
    results.check("no job started more often than its recorded runs", not too_many, f"{too_many[:10]}")
    return sum(1 for r in starts.values() if len(r) > 1)


def overlapping_runs(starts, ends):
    """(job, run, later run) for each run that ended after a later run of its job had started."""
    overlaps = []
    for job_id, runs_of_job in starts.items():
        ended = dict(ends.get(job_id, []))
        for attempt, _ in runs_of_job:
            overlaps += [(job_id, attempt, later) for later, later_at in runs_of_job
                         if later > attempt and attempt in ended and ended[attempt] > later_at]
    return overlaps

def run(name, body):
    """Runs `body(results)` and exits with its summary; an exception is a failed check (with its
    traceback), never a missing summary line."""
    install_signal_exit()
    results = Results(name)
    try:
        body(results)
    except Exception as error:  # noqa: BLE001: reported as a failure, then the summary
        import traceback
        traceback.print_exc()
        results.check("the run completed", False, repr(error))
    sys.exit(results.summary())


def install_signal_exit():
    """SIGTERM/SIGINT raise SystemExit, so that the `with Workdir` clean-ups run."""
    def handler(number, frame):
        raise SystemExit(128 + number)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
