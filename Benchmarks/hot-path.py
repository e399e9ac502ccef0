#!/usr/bin/env python3
"""jobqd's own cost per request and per job: the figures of docs/performance.md's hot-path table.

    Benchmarks/hot-path.py [--rounds N] [--seconds S] [--jobs N] [BIN ...]

BIN: folders with jobqd and jobq (default .build/release). With several, their rounds alternate
(order reversed every other round), for a before/after of two builds in one run. Each figure
starts a fresh jobqd (durability full, state under /var/tmp) and measures:

- a durable submit on a kept-alive connection (httpload.c, one C connection, the queue paused):
  jobqd's CPU (utime+stime of /proc/PID/stat) and context switches per submit;
- a durable submit on a new connection per request (the same, as one `jobq` command makes it):
  the p50 and p99 time from connect to the whole answer, and the CPU per submit;
- end to end: N `{"argv":["true"]}` jobs in one batch (2 workers), then a join: jobqd's CPU per
  job (its children's excluded: they are cutime/cstime) and its threads' context switches per
  job.

Then Benchmarks/store-floor.c: SQLite's commit of the same row alone, in one process, with
`synchronous` FULL (jobqd's `durability = full`), NORMAL and OFF, and a plain pwrite+fdatasync:
no kept-alive submit can cost jobqd less than its FULL row.

Context switches are the voluntary and involuntary switches of jobqd's own threads
(/proc/PID/task/*/status), sampled every 50 ms so that a thread that ends within the window
still counts; `perf stat -p` would count the jobs' processes too.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_seconds, exchange  # noqa: E402


def build_httpload():
    load = os.path.join(ROOT, "Benchmarks/.build-httpload/httpload")
    source = os.path.join(ROOT, "Benchmarks/httpload.c")
    if not os.path.exists(load) or os.path.getmtime(source) > os.path.getmtime(load):
        os.makedirs(os.path.dirname(load), exist_ok=True)
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            sys.exit("hot-path: no C compiler (cc, gcc or clang)")
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", load, source], check=True)
    return load


def store_floor():
    """Benchmarks/store-floor.c's lines: SQLite's commit alone on this machine, no jobqd."""
    floor = os.path.join(ROOT, "Benchmarks/.build-httpload/store-floor")
    source = os.path.join(ROOT, "Benchmarks/store-floor.c")
    if not os.path.exists(floor) or os.path.getmtime(source) > os.path.getmtime(floor):
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", floor, source, "-lsqlite3"], check=True)
    return subprocess.run([floor, os.path.join(ROOT, "migrations", "sqlite"), "10000"], check=True, capture_output=True,
                          text=True).stdout


class SwitchCounter:
    """Context switches of a process's threads, sampled so that threads that end are counted."""

    def __init__(self, pid):
        self.pid = pid
        self.seen = {}
        self.stop = threading.Event()
        self.start = self.read()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def read(self):
        counts = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except FileNotFoundError:
            return counts
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/status") as f:
                    total = 0
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
                counts[tid] = total
            except (FileNotFoundError, ProcessLookupError):
                pass
        return counts

    def sample(self):
        while not self.stop.wait(0.05):
            for tid, count in self.read().items():
                self.seen[tid] = max(self.seen.get(tid, 0), count)

    def finish(self):
        self.stop.set()
        self.thread.join()
        for tid, count in self.read().items():
            self.seen[tid] = max(self.seen.get(tid, 0), count)
        return sum(count - self.start.get(tid, 0) for tid, count in self.seen.items())


class Daemon:
    def __init__(self, bin_dir, work, workers=2):
        self.state = tempfile.mkdtemp(dir=work)
        self.socket = os.path.join(self.state, "sock")
        self.bin = bin_dir
        self.process = subprocess.Popen(
            [os.path.join(bin_dir, "jobqd"), "--state-dir", os.path.join(self.state, "state"), "--socket", self.socket,
             "--workers", str(workers), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.state, "log"), "w"))
        for _ in range(400):
            if os.path.exists(self.socket) and os.stat(self.socket).st_mode & 0o060:
                break
            time.sleep(0.01)
        else:
            sys.exit(f"hot-path: {bin_dir}/jobqd did not listen")
        self.pid = self.process.pid

    def jobq(self, *arguments):
        return subprocess.run([os.path.join(self.bin, "jobq"), "--socket", self.socket, *arguments],
                              check=True, capture_output=True, text=True).stdout

    def request(self, method, path, body=b""):
        answer = exchange(self.socket, method, path, body)
        status = int(answer.split(b" ", 2)[1])
        if status >= 300:
            sys.exit(f"hot-path: {method} {path}: {answer[:300]!r}")
        return answer

    def stop(self):
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.state, ignore_errors=True)


def submits(load, bin_dir, work, seconds, new_connections):
    """(submits/s, jobqd µs per submit, switches per submit, p50 ms, p99 ms)."""
    daemon = Daemon(bin_dir, work)
    try:
        daemon.jobq("pause")
        counter = SwitchCounter(daemon.pid)
        cpu = cpu_seconds(daemon.pid)
        flags = ["--new-connections"] if new_connections else []
        out = subprocess.run([load, *flags, daemon.socket, "1", str(seconds), "/v1/jobs", '{"argv":["true"]}'],
                             check=True, capture_output=True, text=True).stdout.split()
        cpu = cpu_seconds(daemon.pid) - cpu
        switches = counter.finish()
        count = int(out[2].lstrip("("))
        stored = json.loads(daemon.jobq("status", "--json"))["states"]["queued"]
        if not count <= stored <= count + 1:
            sys.exit(f"hot-path: {stored} jobs stored after {count} acknowledged submits")
        return float(out[0]), cpu * 1e6 / count, switches / count, float(out[out.index("p50") + 1]), \
            float(out[out.index("p99") + 1])
    finally:
        daemon.stop()


def end_to_end(bin_dir, work, jobs):
    """(jobs/s, jobqd µs per job, switches per job)."""
    daemon = Daemon(bin_dir, work)
    try:
        body = json.dumps({"jobs": [{"argv": ["true"]}] * jobs}).encode()
        counter = SwitchCounter(daemon.pid)
        cpu = cpu_seconds(daemon.pid)
        started = time.monotonic()
        daemon.request("POST", "/v1/jobs", body)
        answer = daemon.request("POST", "/v1/join", b"{}")
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(daemon.pid) - cpu
        switches = counter.finish()
        if b'"done":true' not in answer.replace(b" ", b""):
            sys.exit(f"hot-path: the join did not finish: {answer[:300]!r}")
        succeeded = json.loads(daemon.jobq("status", "--json"))["states"]["succeeded"]
        if succeeded != jobs:
            sys.exit(f"hot-path: {succeeded} of {jobs} jobs succeeded")
        return jobs / elapsed, cpu * 1e6 / jobs, switches / jobs
    finally:
        daemon.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("bins", nargs="*", default=[os.path.join(ROOT, ".build/release")])
    options = parser.parse_args()
    for bin_dir in options.bins:
        for tool in ("jobqd", "jobq"):
            if not os.access(os.path.join(bin_dir, tool), os.X_OK):
                sys.exit(f"hot-path: no {tool} in {bin_dir} (make release)")
    load = build_httpload()
    work = tempfile.mkdtemp(prefix="jobq-hot-path.", dir="/var/tmp")
    results = {(b, kind): [] for b in options.bins for kind in ("keep", "new", "e2e")}
    try:
        for round_number in range(options.rounds):
            order = options.bins if round_number % 2 == 0 else list(reversed(options.bins))
            for kind in ("keep", "new", "e2e"):
                for bin_dir in order:
                    if kind == "e2e":
                        result = end_to_end(bin_dir, work, options.jobs)
                    else:
                        result = submits(load, bin_dir, work, options.seconds, kind == "new")
                    results[(bin_dir, kind)].append(result)
                    print(f"round {round_number + 1}, {bin_dir}, {kind}: {result}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(bin_dir, kind, index):
        return statistics.median(r[index] for r in results[(bin_dir, kind)])

    print(f"| build | figure | median of {options.rounds} |")
    print("|---|---|---:|")
    for bin_dir in options.bins:
        rows = [
            ("jobqd CPU per durable submit, kept-alive connection, paused queue", f"{median(bin_dir, 'keep', 1):.0f} µs"),
            ("context switches per kept-alive submit", f"{median(bin_dir, 'keep', 2):.1f}"),
            ("kept-alive submits/s (one C client)", f"{median(bin_dir, 'keep', 0):,.0f}"),
            ("durable submit on a new connection, C client, paused queue, p50 (p99)",
             f"{median(bin_dir, 'new', 3):.2f} ms ({median(bin_dir, 'new', 4):.2f})"),
            ("jobqd CPU per submit on a new connection", f"{median(bin_dir, 'new', 1):.0f} µs"),
            (f"jobqd's own CPU per job end to end, {options.jobs:,} `true`, 2 workers", f"{median(bin_dir, 'e2e', 1):.0f} µs"),
            ("context switches per job end to end", f"{median(bin_dir, 'e2e', 2):.1f}"),
            ("jobs/s end to end", f"{median(bin_dir, 'e2e', 0):,.0f}"),
        ]
        for name, value in rows:
            print(f"| {bin_dir} | {name} | {value} |")
    print()
    print("The floor under a kept-alive submit (Benchmarks/store-floor.c, one process, no jobqd):")
    print(store_floor(), end="")


if __name__ == "__main__":
    main()
