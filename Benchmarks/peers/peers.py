#!/usr/bin/env python3
"""jobq beside the tools people use today, on the same machine, in one run.

Run through Benchmarks/peers/run.sh, which installs the peers and builds jobq first. Scenarios
(each tool's rounds alternate with the others'; the table gives the median of the rounds):

  cli      N `true` jobs, one process per submit: `jobq submit -- true` vs `tsp -n true`,
           `nq -q true` and `echo true | batch`; submits/s and p50/p99 latency.
  api      durable submits over each daemon's socket, from 1 and from 32 client processes,
           single and batched: jobq (HTTP on its Unix socket, durability=full: the answer comes
           after the fsync) vs beanstalkd with a binlog (`-b`, default fsync window of 50 ms)
           and with `-b -f0` (fsync before each answer). beanstalkd's single puts go through
           greenstalk; it has no batch command, so its batched rows pipeline the puts (all the
           commands of a batch sent before the answers are read), jobq's send {"jobs": [...]}.
           The single rows also time GET /healthz from the same clients (jobq's HTTP path
           alone, no store): the bound of a single request.
  e2e      N `true` jobs with 2 workers, from the first submit to the last finish: jobq (one
           `jobq submit --stdin --split` batch, whose jobs exec `true` as tsp's and nq's do; one
           `jobq submit --stdin` batch, whose jobs are `/bin/sh -c true`; and one
           `jobq submit -- true` per job) vs tsp with 2 slots
           (one `tsp` per job) vs nq (one `nq` per job; nq runs one job at a time).
  memory   jobqd's RSS idle, with 100,000 and with 1,000,000 queued jobs (its queue paused),
           and the time from start to READY=1 with them; beanstalkd's beside it.
  machine  what bounds the rows: 4 KiB pwrite+fdatasync rate in the state directory's
           file system, posix_spawn+waitpid rate of /bin/true.
  budget   where the time of one CLI submit goes, part by part, in alternating rounds: a
           static C and a static Swift program that do nothing (a client process's start),
           `jobq submit -- true` with no daemon (jobq's start), a static C client that makes
           jobq's very request (the daemon's durable answer on a new connection, for a client
           as cheap as C), and `jobq submit -- true`, each with jobqd's queue paused and
           running, beside `tsp -n true`. Needs a C compiler (cc, or the Swift toolchain's
           clang) and swiftc.

Every client is Python, the same for jobq and for the peers, and runs on the same two cores
as the daemons. Results: a table on stdout; --json FILE also writes them as JSON.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SCENARIOS = ["machine", "cli", "budget", "api", "e2e", "memory"]


# ---------------------------------------------------------------- helpers

def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def spawn(argv, env=None, stdin_path=None):
    """posix_spawn, output to /dev/null: the least a caller can spend to run a command."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    if stdin_path:
        actions.append((os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0))
    return os.posix_spawn(argv[0], argv, env if env is not None else os.environ, file_actions=actions)


def run_checked(argv, env=None, stdin_path=None):
    pid = spawn(argv, env, stdin_path)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")


def which(name):
    path = shutil.which(name)
    if path is None:
        sys.exit(f"{name} is missing: run Benchmarks/peers/run.sh, which installs it")
    return path


def tsp_wait_all(env):
    """Returns tsp's listing once none of its jobs is queued or running. `tsp -w` waits for the
    last job only; the one before it may still run in the other slot."""
    tsp = which("tsp")
    while True:
        subprocess.run([tsp, "-w"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listing = subprocess.run([tsp], env=env, capture_output=True, text=True).stdout
        if " running " not in listing and " queued " not in listing:
            return listing


def nq_wait_all(directory, env):
    """Returns once every job in the nq queue `directory` has ended; raises when one failed.
    `nq -w` waits for the jobs it finds; a job whose nq forked it just before may not be there
    yet (its file is renamed into place as it starts), so it runs again until none is left.
    With -c a job's file goes when it succeeds: a file left holds a failure, or its removal."""
    nq = which("nq")
    for _ in range(100):
        run_checked([nq, "-w"], env)
        left = [name for name in os.listdir(directory) if name.startswith(",") or name.startswith(".,")]
        running = [name for name in left if subprocess.run([nq, "-t", name], env=env, cwd=directory).returncode != 0]
        if not running:
            break
    failed = []
    for name in left:
        try:
            with open(os.path.join(directory, name), errors="replace") as f:
                if not f.read().rstrip().endswith("[exited with status 0.]"):
                    failed.append(name)
        except FileNotFoundError:
            pass  # removed by -c meanwhile: it succeeded
    if failed:
        raise RuntimeError(f"nq: {len(failed)} jobs did not succeed ({failed[:3]})")


# ---------------------------------------------------------------- jobq

class JobqConnection:
    """HTTP/1.1 on jobqd's Unix socket, kept alive.

    As lean as greenstalk is for beanstalkd, so that the clients' own CPU (on the same two
    cores as the daemons) weighs alike on both: each request's bytes are built once, the answer
    is parsed with a few bytes operations, and a read asks for 64 KiB (a 1 MiB read made Python
    map and unmap a buffer for each answer: 55 us of the client's CPU per request against
    greenstalk's 29, measured 2026-11-28)."""

    READ = 1 << 16

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buffer = b""
        self.prepared = {}

    def request(self, method, target, body=b""):
        key = (method, target, body)
        data = self.prepared.get(key)
        if data is None:
            data = (f"{method} {target} HTTP/1.1\r\nHost: jobq\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            if len(self.prepared) < 16:
                self.prepared[key] = data
        self.sock.sendall(data)
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            buffer += self.recv()
            end = buffer.find(b"\r\n\r\n")
        head = buffer[:end].lower()
        status = int(head[9:12])
        length = 0
        field = head.find(b"\r\ncontent-length:")
        if field >= 0:
            line_end = head.find(b"\r\n", field + 2)
            length = int(head[field + 17:line_end if line_end >= 0 else len(head)])
        start = end + 4
        while len(buffer) - start < length:
            buffer += self.recv()
        self.buffer = buffer[start + length:]
        return status, buffer[start:start + length]

    def recv(self):
        data = self.sock.recv(self.READ)
        if not data:
            self.closed()
        return data

    def closed(self):
        raise RuntimeError("jobqd closed the connection")

    def close(self):
        self.sock.close()


# Daemons started and not yet stopped: Bench.close() stops them, so that a scenario that fails
# (a peer missing, a check failed) leaves no daemon behind holding the caller's output.
RUNNING = set()


class Jobqd:
    def __init__(self, binary, work, workers=2):
        self.binary, self.work, self.workers = binary, work, workers
        self.state = os.path.join(work, "state")
        self.socket = os.path.join(work, "jobq.sock")
        self.process = None
        self.notify = None

    def start(self):
        notify_path = os.path.join(self.work, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        # kept open while the daemon runs: it also sends STATUS= and STOPPING=1
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self.notify.settimeout(120)
        started = time.perf_counter()
        RUNNING.add(self)
        self.process = subprocess.Popen(
            [self.binary, "--state-dir", self.state, "--socket", self.socket, "--workers", str(self.workers),
             "--durability", "full", "--log-level", "warning"],
            env={**os.environ, "NOTIFY_SOCKET": notify_path}, stdin=subprocess.DEVNULL)
        while b"READY=1" not in self.notify.recv(4096).split(b"\n"):
            pass
        ready = time.perf_counter() - started
        # what it sends later (STATUS=, STOPPING=1) is read and dropped, so that it never
        # finds the socket full
        notify = self.notify
        notify.settimeout(None)

        def drain():
            try:
                while notify.recv(4096):
                    pass
            except OSError:
                pass  # closed by stop()
        threading.Thread(target=drain, daemon=True).start()
        return ready

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(120)
        self.process = None
        RUNNING.discard(self)
        if self.notify:
            try:
                self.notify.shutdown(socket.SHUT_RDWR)  # wakes the drain thread's recv
            except OSError:
                pass
            self.notify.close()
            self.notify = None

    def call(self, method, target, body=b""):
        connection = JobqConnection(self.socket)
        try:
            return connection.request(method, target, body)
        finally:
            connection.close()

    def pause(self, queue="default"):
        status, body = self.call("POST", f"/v1/queues/{queue}/pause")
        assert status == 200, body

    def queued(self):
        status, body = self.call("GET", "/v1/status")
        assert status == 200, body
        return json.loads(body)["states"].get("queued", 0)

    def rss(self):
        return rss_mb(self.process.pid)


JOB = json.dumps({"argv": ["true"]}).encode()


def jobq_batch_body(size):
    return json.dumps({"jobs": [{"argv": ["true"]}] * size}).encode()


# ---------------------------------------------------------------- beanstalkd

class Beanstalkd:
    def __init__(self, work, fsync):
        self.work, self.fsync = work, fsync  # fsync: None (default window) or 0
        self.binlog = os.path.join(work, "binlog")
        self.process = None
        self.port = None

    def start(self):
        os.makedirs(self.binlog, exist_ok=True)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        argv = [which("beanstalkd"), "-l", "127.0.0.1", "-p", str(self.port), "-b", self.binlog]
        if self.fsync is not None:
            argv += ["-f", str(self.fsync)]
        started = time.perf_counter()
        RUNNING.add(self)
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        while True:
            # beanstalkd has no readiness signal, and it listens before it replays its binlog:
            # its first answer is when it serves
            try:
                probe = socket.create_connection(("127.0.0.1", self.port))
                try:
                    probe.sendall(b"use default\r\n")  # the whole answer is one short line
                    answer = b""
                    while not answer.endswith(b"\r\n"):
                        chunk = probe.recv(64)
                        if not chunk:
                            break
                        answer += chunk
                    if answer == b"USING default\r\n":
                        break
                finally:
                    probe.close()
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("beanstalkd exited")
                time.sleep(0.002)
        return time.perf_counter() - started

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)
        self.process = None
        RUNNING.discard(self)

    def ready_jobs(self):
        connection = socket.create_connection(("127.0.0.1", self.port))
        connection.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2:
            data += connection.recv(65536)
        connection.close()
        for line in data.decode().splitlines():
            if line.startswith("current-jobs-ready:"):
                return int(line.split(":")[1])
        return -1

    def rss(self):
        return rss_mb(self.process.pid)


PUT = b"put 65536 0 60 4\r\ntrue\r\n"


def beanstalk_pipelined(connection, count):
    connection.sendall(PUT * count)
    answers, data = 0, b""
    while answers < count:
        chunk = connection.recv(1 << 16)
        if not chunk:
            raise RuntimeError("beanstalkd closed the connection")
        data += chunk
        complete = data.rfind(b"\r\n") + 2
        lines = data[:complete].split(b"\r\n")[:-1]
        for line in lines:
            if not line.startswith(b"INSERTED"):
                raise RuntimeError(f"beanstalkd answered {line!r}")
        answers += len(lines)
        data = data[complete:]


# ---------------------------------------------------------------- client processes

def _api_client(target, clients_barrier, jobs, batch, results):
    """One client process: connects, waits at the barrier, submits `jobs` jobs."""
    try:
        kind, address = target
        if kind == "jobq-healthz":
            # the same requests' HTTP path without the store: what bounds a single request
            connection = JobqConnection(address)
            clients_barrier.wait()
            for _ in range(jobs):
                status, answer = connection.request("GET", "/healthz")
                if status != 200:
                    raise RuntimeError(f"jobqd answered {status}: {answer[:200]!r}")
        elif kind == "jobq":
            connection = JobqConnection(address)
            body = jobq_batch_body(batch) if batch > 1 else JOB
            clients_barrier.wait()
            done = 0
            while done < jobs:
                size = min(batch, jobs - done)
                status, answer = connection.request("POST", "/v1/jobs", body if size == batch else jobq_batch_body(size))
                if status != 201:
                    raise RuntimeError(f"jobqd answered {status}: {answer[:200]!r}")
                done += size
        elif batch > 1:
            connection = socket.create_connection(address)
            clients_barrier.wait()
            done = 0
            while done < jobs:
                size = min(batch, jobs - done)
                beanstalk_pipelined(connection, size)
                done += size
        else:
            import greenstalk
            client = greenstalk.Client(address)
            clients_barrier.wait()
            for _ in range(jobs):
                client.put("true", priority=65536, ttr=60)
        results.put(("ok", jobs))
    except Exception as error:  # reported to the parent, which fails the run
        results.put(("error", repr(error)))
        try:
            clients_barrier.abort()
        except Exception:
            pass


def api_round(target, clients, jobs, batch):
    """`jobs` jobs from `clients` processes; returns jobs/s from the barrier to the last answer."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients + 1)
    results = context.Queue()
    share = [jobs // clients + (1 if i < jobs % clients else 0) for i in range(clients)]
    processes = [context.Process(target=_api_client, args=(target, barrier, n, batch, results)) for n in share]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    outcomes = [results.get(timeout=900) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    errors = [detail for kind, detail in outcomes if kind == "error"]
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]}")
    return jobs / elapsed


# ---------------------------------------------------------------- scenarios

class Bench:
    def __init__(self, options):
        self.options = options
        self.bin = options.bin
        self.rows = []      # (section, row, figures..., ratio text)
        self.results = {}   # for --json
        self.root = tempfile.mkdtemp(prefix="jobq-peers-", dir=options.workdir)

    def close(self):
        for daemon in list(RUNNING):
            daemon.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh(self, name):
        path = tempfile.mkdtemp(prefix=name + "-", dir=self.root)
        return path

    def say(self, text):
        print(text, file=sys.stderr, flush=True)

    # -------------------------------------------------- machine

    def machine(self):
        path = os.path.join(self.fresh("fsync"), "probe")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        block = b"\0" * 4096
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2:
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            count += 1
        fsync_rate = count / (time.perf_counter() - started)
        os.close(fd)
        true = which("true")
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2:
            os.waitpid(os.posix_spawn(true, [true], os.environ), 0)
            count += 1
        spawn_rate = count / (time.perf_counter() - started)
        self.results["machine"] = {"fdatasync_per_s": fsync_rate, "posix_spawn_per_s": spawn_rate}
        self.say(f"machine: {fsync_rate:,.0f} fdatasync/s, {spawn_rate:,.0f} posix_spawn+wait/s")

    # -------------------------------------------------- cli

    def cli(self):
        jobs, rounds = self.options.cli_jobs, self.options.rounds
        work = self.fresh("cli")
        daemon = Jobqd(os.path.join(self.bin, "jobqd"), work)
        daemon.start()
        tsp_env = {**os.environ, "TS_SOCKET": os.path.join(work, "tsp.sock"),
                   "TS_MAXFINISHED": str(jobs + 10), "TS_SAVELIST": "", "TMPDIR": work}
        nq_env = {**os.environ, "NQDIR": os.path.join(work, "nq")}
        batch_input = os.path.join(work, "batch-input")
        with open(batch_input, "w") as f:
            f.write("true\n")
        atq_before = self.at_jobs()
        run_checked([which("tsp"), "-S", "2"], tsp_env)
        tools = {
            "jobq": ([os.path.join(self.bin, "jobq"), "submit", "--", "true"], {**os.environ, "JOBQ_SOCKET": daemon.socket}, None),
            "tsp": ([which("tsp"), "-n", "true"], tsp_env, None),
            "nq": ([which("nq"), "-q", "-c", "true"], nq_env, None),
            "batch": ([which("batch")], os.environ, batch_input),
        }
        drains = {"jobq": lambda: run_checked([tools["jobq"][0][0], "join"], tools["jobq"][1]),
                  "tsp": lambda: tsp_wait_all(tsp_env),
                  "nq": lambda: nq_wait_all(nq_env["NQDIR"], nq_env),
                  "batch": lambda: None}  # no atd runs: batch's jobs stay in its spool (removed below)
        latencies = {name: [] for name in tools}
        rates = {name: [] for name in tools}
        per_round = max(1, jobs // rounds)
        try:
            for round_index in range(rounds):
                order = list(tools) if round_index % 2 == 0 else list(reversed(tools))
                for name in order:
                    argv, env, stdin_path = tools[name]
                    started = time.perf_counter()
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        run_checked(argv, env, stdin_path)
                        latencies[name].append(time.perf_counter() - t0)
                    rates[name].append(per_round / (time.perf_counter() - started))
                    drains[name]()  # its jobs end before the next tool's round (not timed)
        finally:
            daemon.stop()
            subprocess.run([which("tsp"), "-K"], env=tsp_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            new = sorted(self.at_jobs() - atq_before)
            for start in range(0, len(new), 500):
                subprocess.run([which("atrm")] + new[start:start + 500], stderr=subprocess.DEVNULL)
        result = {}
        for name in tools:
            result[name] = {"submits_per_s": statistics.median(rates[name]),
                            "p50_ms": percentile(latencies[name], 50) * 1000,
                            "p99_ms": percentile(latencies[name], 99) * 1000}
        self.results["cli"] = {"jobs_per_tool": per_round * rounds, "rounds": rounds, **result}
        for name, figures in result.items():
            self.say(f"cli {name}: {figures['submits_per_s']:,.0f}/s p50 {figures['p50_ms']:.2f} ms "
                     f"p99 {figures['p99_ms']:.2f} ms")

    # -------------------------------------------------- budget

    def budget(self):
        """One CLI submit, part by part: each row is `per_round` processes per round, the rows
        alternating (in an order reversed every other round), p50 and p99 of each process's
        time from posix_spawn to waitpid. The jobs a row leaves queued run, and tsp's end,
        before the next row (not timed)."""
        runs, rounds = max(2, self.options.cli_jobs // 2), self.options.rounds
        per_round = max(1, runs // rounds)
        work = self.fresh("budget")
        built = self.budget_programs(work)
        daemon = Jobqd(os.path.join(self.bin, "jobqd"), work)
        daemon.start()
        tsp_env = {**os.environ, "TS_SOCKET": os.path.join(work, "tsp.sock"),
                   "TS_MAXFINISHED": str(runs + 10), "TS_SAVELIST": "", "TMPDIR": work}
        run_checked([which("tsp"), "-S", "2"], tsp_env)
        jobq = os.path.join(self.bin, "jobq")
        jobq_env = {**os.environ, "JOBQ_SOCKET": daemon.socket}
        nowhere_env = {**os.environ, "JOBQ_SOCKET": os.path.join(work, "nothing-listens.sock")}
        client = [built["c client"], daemon.socket]
        # name: (argv, env, jobqd's queue during the row or None, exit status expected)
        rows = {
            "a static C program that does nothing": ([built["c nothing"]], os.environ, None, 0),
            "a static Swift program that does nothing": ([built["swift nothing"]], os.environ, None, 0),
            "`jobq submit -- true`, no daemon (its start, a failed connect)": (
                [jobq, "submit", "--", "true"], nowhere_env, None, 3),
            "a static C client, jobq's request, queue paused": (client, os.environ, "pause", 0),
            "`jobq submit -- true`, queue paused": ([jobq, "submit", "--", "true"], jobq_env, "pause", 0),
            "a static C client, jobq's request, queue running": (client, os.environ, "resume", 0),
            "`jobq submit -- true`, queue running": ([jobq, "submit", "--", "true"], jobq_env, "resume", 0),
            "`tsp -n true`, 2 slots, its jobs running": ([which("tsp"), "-n", "true"], tsp_env, None, 0),
        }
        latencies = {name: [] for name in rows}
        try:
            for round_index in range(rounds):
                order = list(rows) if round_index % 2 == 0 else list(reversed(rows))
                for name in order:
                    argv, env, queue, expected = rows[name]
                    if queue:
                        status, body = daemon.call("POST", f"/v1/queues/default/{queue}")
                        assert status == 200, body
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        _, status = os.waitpid(spawn(argv, env), 0)
                        latencies[name].append(time.perf_counter() - t0)
                        if os.waitstatus_to_exitcode(status) != expected:
                            raise RuntimeError(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
                    if queue == "pause":
                        status, body = daemon.call("POST", "/v1/queues/default/resume")
                        assert status == 200, body
                    if queue:
                        run_checked([jobq, "join"], jobq_env)
                    if argv[0].endswith("tsp"):
                        tsp_wait_all(tsp_env)
            status, body = daemon.call("GET", "/v1/status")
            succeeded = json.loads(body)["states"].get("succeeded", 0)
            if succeeded != 4 * per_round * rounds:
                raise RuntimeError(f"jobq: {succeeded} of {4 * per_round * rounds} budget jobs succeeded")
        finally:
            daemon.stop()
            subprocess.run([which("tsp"), "-K"], env=tsp_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.results["budget"] = {
            "per_row": per_round * rounds, "rounds": rounds,
            "rows": [{"part": name, "p50_ms": percentile(latencies[name], 50) * 1000,
                      "p99_ms": percentile(latencies[name], 99) * 1000} for name in rows]}
        for row in self.results["budget"]["rows"]:
            self.say(f"budget {row['part']}: p50 {row['p50_ms']:.3f} ms, p99 {row['p99_ms']:.2f} ms")

    C_NOTHING = "int main(void) { return 0; }\n"

    # One POST /v1/jobs on a new connection, the bytes jobq's quick path sends (sorted keys, the
    # current directory, Connection: close); exit 0 on 201 Created, 1 otherwise.
    C_CLIENT = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char cwd[4096], body[8192], request[9216], answer[4096];
    if (!getcwd(cwd, sizeof cwd)) return 1;
    int body_length = snprintf(body, sizeof body,
        "{\"argv\":[\"true\"],\"cwd\":\"%s\",\"priority\":0,\"queue\":\"default\"}", cwd);
    int length = snprintf(request, sizeof request,
        "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\nConnection: close\r\n\r\n%s", body_length, body);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return 1;
    if (write(fd, request, length) != length) return 1;
    size_t got = 0;
    ssize_t n;
    while (got < sizeof answer - 1 && (n = read(fd, answer + got, sizeof answer - 1 - got)) > 0) got += n;
    answer[got] = 0;
    return strncmp(answer, "HTTP/1.1 201", 12) == 0 ? 0 : 1;
}
"""

    def budget_programs(self, work):
        """Builds the budget's reference programs into `work`, then copies each to a new file:
        a program run as the linker wrote it started ~0.1 ms slower than the same bytes copied
        (the page cache of a file written through mmap; measured 2026-11-29), and what people
        run is installed, that is, copied (run.sh copies jobq's binaries too)."""
        cc = shutil.which("cc") or shutil.which("gcc")
        swiftc = shutil.which("swiftc")
        if cc is None and swiftc is not None:
            cc = shutil.which("clang", path=os.path.dirname(os.path.realpath(swiftc)))
        if cc is None or swiftc is None:
            sys.exit("the budget scenario needs a C compiler (cc, or the Swift toolchain's clang) and swiftc")
        sources = {"c nothing": ("nothing.c", self.C_NOTHING), "c client": ("client.c", self.C_CLIENT),
                   "swift nothing": ("main.swift", "")}
        built = {}
        for name, (file, text) in sources.items():
            source = os.path.join(work, file)
            with open(source, "w") as f:
                f.write(text)
            linked = os.path.join(work, name.replace(" ", "-") + ".linked")
            if file.endswith(".c"):
                command = [cc, "-O2", "-static", "-o", linked, source]
            else:
                command = [swiftc, "-O", "-static-executable", "-o", linked, source]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            built[name] = linked[:-len(".linked")]
            shutil.copyfile(linked, built[name])
            shutil.copymode(linked, built[name])
        return built

    @staticmethod
    def at_jobs():
        out = subprocess.run([which("atq")], capture_output=True, text=True).stdout
        return {line.split()[0] for line in out.splitlines() if line.strip()}

    # -------------------------------------------------- api

    def api(self):
        jobs, rounds = self.options.api_jobs, self.options.rounds
        configs = [(1, 1), (32, 1), (1, self.options.batch), (32, self.options.batch)]
        self.results["api"] = []
        for clients, batch in configs:
            work = self.fresh(f"api-{clients}-{batch}")
            daemon = Jobqd(os.path.join(self.bin, "jobqd"), os.path.join(work, "jobq"))
            os.makedirs(daemon.work)
            daemon.start()
            daemon.pause()
            peers = {"beanstalkd": Beanstalkd(os.path.join(work, "bs"), None),
                     "beanstalkd -f0": Beanstalkd(os.path.join(work, "bs-f0"), 0)}
            for peer in peers.values():
                peer.start()
            targets = {"jobq": ("jobq", daemon.socket)}
            if batch == 1:
                targets["jobq /healthz"] = ("jobq-healthz", daemon.socket)
            targets.update({name: ("beanstalkd", ("127.0.0.1", peer.port)) for name, peer in peers.items()})
            rates = {name: [] for name in targets}
            per_round = max(clients * batch, jobs // rounds)
            try:
                for round_index in range(rounds):
                    order = list(targets) if round_index % 2 == 0 else list(reversed(targets))
                    for name in order:
                        rates[name].append(api_round(targets[name], clients, per_round, batch))
                # every acknowledged job is there
                expected = per_round * rounds
                stored = {"jobq": daemon.queued()}
                stored.update({name: peer.ready_jobs() for name, peer in peers.items()})
                for name, count in stored.items():
                    if count != expected:
                        raise RuntimeError(f"{name} holds {count} jobs, {expected} were acknowledged")
            finally:
                daemon.stop()
                for peer in peers.values():
                    peer.stop()
                shutil.rmtree(work, ignore_errors=True)
            row = {"clients": clients, "batch": batch, "jobs_per_tool": per_round * rounds,
                   **{name: statistics.median(values) for name, values in rates.items()},
                   "rounds": {name: values for name, values in rates.items()}}
            self.results["api"].append(row)
            self.say(f"api {clients} client(s), batch {batch}: " +
                     ", ".join(f"{name} {statistics.median(v):,.0f}/s" for name, v in rates.items()))

    # -------------------------------------------------- e2e

    def e2e(self):
        jobs = self.options.e2e_jobs
        work = self.fresh("e2e")
        lines = os.path.join(work, "lines")
        with open(lines, "w") as f:
            f.write("true\n" * jobs)
        results = {}
        jobq = os.path.join(self.bin, "jobq")

        def jobq_run(mode):
            daemon = Jobqd(os.path.join(self.bin, "jobqd"), self.fresh("e2e-jobq"))
            daemon.start()
            env = {**os.environ, "JOBQ_SOCKET": daemon.socket}
            try:
                started = time.perf_counter()
                if mode == "per process":
                    for _ in range(jobs):
                        run_checked([jobq, "submit", "--", "true"], env)
                elif mode == "split":
                    run_checked([jobq, "submit", "--stdin", "--split"], env, lines)
                else:
                    run_checked([jobq, "submit", "--stdin"], env, lines)
                run_checked([jobq, "join"], env)
                elapsed = time.perf_counter() - started
                status, body = daemon.call("GET", "/v1/status")
                succeeded = json.loads(body)["states"].get("succeeded", 0)
                if succeeded != jobs:
                    raise RuntimeError(f"jobq: {succeeded} of {jobs} jobs succeeded")
            finally:
                daemon.stop()
            return jobs / elapsed

        def tsp_run():
            env = {**os.environ, "TS_SOCKET": os.path.join(work, "tsp.sock"), "TS_MAXFINISHED": str(jobs + 10),
                   "TS_SAVELIST": "", "TMPDIR": work}
            tsp = which("tsp")
            run_checked([tsp, "-S", "2"], env)
            try:
                started = time.perf_counter()
                for _ in range(jobs):
                    run_checked([tsp, "-n", "true"], env)
                listing = tsp_wait_all(env)
                elapsed = time.perf_counter() - started
                finished = listing.count(" finished ")
                if finished != jobs:
                    raise RuntimeError(f"tsp: {finished} of {jobs} jobs finished")
            finally:
                subprocess.run([tsp, "-K"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return jobs / elapsed

        def nq_run():
            directory = os.path.join(work, "nq")
            env = {**os.environ, "NQDIR": directory}
            nq = which("nq")
            started = time.perf_counter()
            for _ in range(jobs):
                # -c: a job's file goes when it succeeds (each job locks every file left before it)
                run_checked([nq, "-q", "-c", "true"], env)
            nq_wait_all(directory, env)
            elapsed = time.perf_counter() - started
            return jobs / elapsed

        runs = [("jobq --stdin --split", lambda: jobq_run("split")), ("tsp", tsp_run),
                ("jobq --stdin", lambda: jobq_run("shell")), ("nq", nq_run),
                ("jobq per process", lambda: jobq_run("per process"))]
        for name, function in runs:
            results[name] = function()
            self.say(f"e2e {name}: {results[name]:,.0f} jobs/s")
        self.results["e2e"] = {"jobs": jobs, **results}

    # -------------------------------------------------- memory

    def memory(self):
        sizes = self.options.memory_jobs
        work = self.fresh("memory")
        daemon = Jobqd(os.path.join(self.bin, "jobqd"), work)
        peer = Beanstalkd(self.fresh("memory-bs"), None)
        rows = []
        try:
            daemon.start()
            peer.start()
            rows.append({"queued": 0, "jobq_ready_s": None, "jobq_rss_mb": daemon.rss(),
                         "beanstalkd_ready_s": None, "beanstalkd_rss_mb": peer.rss()})
            daemon.pause()  # it lasts across the restarts below: the jobs stay queued
            queued = 0
            for size in sizes:
                # batches of 1,000 from 4 clients, durable as any submit
                api_round(("jobq", daemon.socket), 4, size - queued, 1000)
                api_round(("beanstalkd", ("127.0.0.1", peer.port)), 4, size - queued, 1000)
                queued = size
                after_submit = daemon.rss()
                daemon.stop()
                ready = daemon.start()
                # the first status read, as an operator's `jobq status` would
                if daemon.queued() != size:
                    raise RuntimeError(f"jobqd holds {daemon.queued()} queued jobs, not {size}")
                peer_after_submit = peer.rss()
                peer.stop()
                peer_ready = peer.start()
                if peer.ready_jobs() != size:
                    raise RuntimeError(f"beanstalkd holds {peer.ready_jobs()} jobs, not {size}")
                rows.append({"queued": size, "jobq_ready_s": ready, "jobq_rss_mb": daemon.rss(),
                             "jobq_rss_after_submit_mb": after_submit,
                             "beanstalkd_ready_s": peer_ready, "beanstalkd_rss_mb": peer.rss(),
                             "beanstalkd_rss_after_submit_mb": peer_after_submit})
                self.say(f"memory {size:,} queued: jobq READY in {ready:.2f} s, RSS {rows[-1]['jobq_rss_mb']:.1f} MB "
                         f"(after the submits {after_submit:.1f} MB); beanstalkd up in {peer_ready:.2f} s, "
                         f"RSS {rows[-1]['beanstalkd_rss_mb']:.1f} MB")
        finally:
            daemon.stop()
            peer.stop()
        self.results["memory"] = rows

    # -------------------------------------------------- the table

    def table(self):
        out = []
        add = out.append
        r = self.results
        add("| scenario | jobq | peer | ratio jobq/peer | target |")
        add("|---|---:|---:|---:|---|")
        if "machine" in r:
            m = r["machine"]
            add(f"| machine: 4 KiB pwrite+fdatasync | {m['fdatasync_per_s']:,.0f} /s | | | bounds one commit per answer |")
            add(f"| machine: posix_spawn+waitpid of true | {m['posix_spawn_per_s']:,.0f} /s | | | bounds jobs run, processes per submit |")
        if "cli" in r:
            c = r["cli"]
            j = c["jobq"]
            for peer in ("tsp", "nq", "batch"):
                p = c[peer]
                target = "≥ 1.0x, p99 ≤ tsp's" if peer == "tsp" else ""
                add(f"| CLI submit ({c['jobs_per_tool']:,} `true`, a process each) vs `{peer}` | "
                    f"{j['submits_per_s']:,.0f} /s (p50 {j['p50_ms']:.2f}, p99 {j['p99_ms']:.2f} ms) | "
                    f"{p['submits_per_s']:,.0f} /s (p50 {p['p50_ms']:.2f}, p99 {p['p99_ms']:.2f} ms) | "
                    f"{j['submits_per_s'] / p['submits_per_s']:.2f}x | {target} |")
        if "budget" in r:
            for row in r["budget"]["rows"]:
                add(f"| bound: one CLI submit, part by part: {row['part']} | p50 {row['p50_ms']:.2f} ms "
                    f"(p99 {row['p99_ms']:.2f}) | | | bounds the CLI row |")
        for row in r.get("api", []):
            shape = f"{row['clients']} client{'s' if row['clients'] > 1 else ''}, " + \
                ("single" if row["batch"] == 1 else f"batches of {row['batch']:,}")
            if "jobq /healthz" in row:
                add(f"| bound: jobqd `GET /healthz` (HTTP alone: no store, no fsync), {shape} | "
                    f"{row['jobq /healthz']:,.0f} /s | | | bounds single requests |")
            for peer, target in (("beanstalkd", "≥ 1.0x"), ("beanstalkd -f0", "≥ 5x")):
                add(f"| durable API submit, {shape} ({row['jobs_per_tool']:,} jobs) vs `{peer}` | "
                    f"{row['jobq']:,.0f} /s | {row[peer]:,.0f} /s | {row['jobq'] / row[peer]:.2f}x | {target} |")
        if "e2e" in r:
            e = r["e2e"]
            for peer in ("tsp", "nq"):
                for mode in ("jobq --stdin --split", "jobq --stdin", "jobq per process"):
                    target = "≥ 1.5x" if peer == "tsp" else ""
                    add(f"| end to end, {e['jobs']:,} `true`, 2 workers: `{mode}` vs `{peer}` | {e[mode]:,.0f} jobs/s | "
                        f"{e[peer]:,.0f} jobs/s | {e[mode] / e[peer]:.2f}x | {target} |")
        for row in r.get("memory", []):
            if row["queued"] == 0:
                add(f"| RSS idle | {row['jobq_rss_mb']:.1f} MB | {row['beanstalkd_rss_mb']:.1f} MB | | < 30 MB |")
            else:
                target = "< 120 MB" if row["queued"] >= 1_000_000 else ""
                add(f"| RSS after a restart with {row['queued']:,} queued (after the submits) | {row['jobq_rss_mb']:.1f} MB "
                    f"({row['jobq_rss_after_submit_mb']:.1f}) | {row['beanstalkd_rss_mb']:.1f} MB "
                    f"({row['beanstalkd_rss_after_submit_mb']:.1f}) | | {target} |")
                target = "< 2 s" if row["queued"] >= 1_000_000 else ""
                add(f"| start to READY=1 with {row['queued']:,} queued | {row['jobq_ready_s']:.2f} s | "
                    f"{row['beanstalkd_ready_s']:.2f} s (to its first answer) | | {target} |")
        return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder with jobqd and jobq (and jobq-cli beside jobq)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="run this scenario (repeatable); default all")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per scenario row (default 4)")
    parser.add_argument("--cli-jobs", type=int, default=2000, help="submits per tool in the CLI scenario")
    parser.add_argument("--api-jobs", type=int, default=100_000, help="jobs per tool and API row")
    parser.add_argument("--batch", type=int, default=1000, help="jobs per batch in the batched API rows")
    parser.add_argument("--e2e-jobs", type=int, default=10_000, help="jobs per tool end to end")
    parser.add_argument("--memory-jobs", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="queued sizes for the memory rows, ascending")
    parser.add_argument("--workdir", default="/var/tmp", help="where the state directories go (a disk, not a tmpfs)")
    parser.add_argument("--json", help="also write the results to this file")
    options = parser.parse_args()
    bench = Bench(options)
    started = time.time()
    try:
        for scenario in options.only or SCENARIOS:
            getattr(bench, scenario)()
    finally:
        bench.close()
    print(f"\njobq beside its peers, {time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} UTC, "
          f"{os.cpu_count()} cores, {time.time() - started:.0f} s\n")
    print(bench.table())
    if options.json:
        with open(options.json, "w") as f:
            json.dump(bench.results, f, indent=2)


if __name__ == "__main__":
    main()
