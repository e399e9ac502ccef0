"""The tools peers.py drives: jobqd and beanstalkd, their clients, and shared helpers."""
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

SCENARIOS = ["machine", "cli", "budget", "api", "e2e", "consumers", "memory", "postgres"]


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
    def __init__(self, binary, work, workers=2, args=()):
        self.binary, self.work, self.workers, self.args = binary, work, workers, list(args)
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
             "--durability", "full", "--log-level", "warning", *self.args],
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

def _api_client(target, jobs, batch, clients_barrier, results):
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


def timed_clients(function, arguments):
    """One process per item of `arguments`, each running `function(*item, barrier, results)`;
    returns (seconds from the barrier to the last one's end, what each reported)."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(arguments) + 1)
    results = context.Queue()
    processes = [context.Process(target=function, args=(*item, barrier, results)) for item in arguments]
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
    return elapsed, [detail for _, detail in outcomes]


def api_round(target, clients, jobs, batch):
    """`jobs` jobs from `clients` processes; returns jobs/s from the barrier to the last answer."""
    share = [jobs // clients + (1 if i < jobs % clients else 0) for i in range(clients)]
    elapsed, _ = timed_clients(_api_client, [(target, n, batch) for n in share])
    return jobs / elapsed


# ---------------------------------------------------------------- scenarios
