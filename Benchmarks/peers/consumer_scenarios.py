"""Consumers: jobq's leases beside beanstalkd's reserve + delete, and the put → get →
task_done round trip on an idle queue."""
import json
import os
import shutil
import socket
import statistics
import threading
import time

from tools import Beanstalkd, JobqConnection, Jobqd, beanstalk_pipelined, timed_clients

QUEUE = "bench"


def prefill(target, count):
    """`count` jobs in the queue, put in batches (not timed)."""
    kind, address = target
    if kind.startswith("jobq"):
        connection = JobqConnection(address)
        done = 0
        while done < count:
            size = min(1000, count - done)
            body = json.dumps({"jobs": [{"queue": QUEUE, "payload": done + n} for n in range(size)]}).encode()
            status, answer = connection.request("POST", "/v1/jobs", body)
            if status != 201:
                raise RuntimeError(f"jobqd answered {status}: {answer[:200]!r}")
            done += size
        connection.sock.close()
    else:
        connection = socket.create_connection(address)
        done = 0
        while done < count:
            size = min(1000, count - done)
            beanstalk_pipelined(connection, size)
            done += size
        connection.close()


def _jobq_carrying_consumer(address, batch, barrier):
    """One request (and one transaction) a lease: each carries the completions of the jobs of
    the lease before it."""
    connection = JobqConnection(address)
    request = {"max": batch, "wait_seconds": 0, "lease_seconds": 300, "consumer": f"bench {os.getpid()}"}
    plain = json.dumps(request).encode()
    barrier.wait()
    done = 0
    tokens = []
    while True:
        body = plain if not tokens else json.dumps({**request, "complete": [{"token": token} for token in tokens]}).encode()
        status, answer = connection.request("POST", f"/v1/queues/{QUEUE}/lease", body)
        if status != 200 or b'"error"' in answer:
            raise RuntimeError(f"lease: {status} {answer[:200]!r}")
        done += len(tokens)
        tokens = [job["lease"]["token"] for job in json.loads(answer)["jobs"]]
        if not tokens:
            return done


def _jobq_consumer(address, batch, barrier, done_next=False):
    """Leases `batch` jobs at a time and completes them until the queue is empty: with a request
    of its own per completion (or per batch), or, with `done_next`, inside the next lease
    request ("done, next" in docs/consumers.md)."""
    connection = JobqConnection(address)
    request = {"max": batch, "wait_seconds": 0, "lease_seconds": 300, "consumer": f"bench {os.getpid()}"}
    lease = json.dumps(request).encode()
    barrier.wait()
    done = 0
    tokens = []
    while True:
        if done_next and tokens:
            lease = json.dumps({**request, "complete": [{"token": token} for token in tokens]}).encode()
        status, answer = connection.request("POST", f"/v1/queues/{QUEUE}/lease", lease)
        if status != 200:
            raise RuntimeError(f"lease: {status} {answer[:200]!r}")
        leased = json.loads(answer)
        if done_next and any("error" in outcome for outcome in leased.get("completed", [])):
            raise RuntimeError(f"done, next: {answer[:200]!r}")
        done += len(tokens) if done_next else 0
        tokens = [job["lease"]["token"] for job in leased["jobs"]]
        if not tokens:
            return done
        if done_next:
            continue
        if batch == 1:
            status, answer = connection.request("POST", f"/v1/leases/{tokens[0]}/complete", b"{}")
            if status != 200:
                raise RuntimeError(f"complete: {status} {answer[:200]!r}")
        else:
            body = json.dumps({"leases": [{"token": token} for token in tokens]}).encode()
            status, answer = connection.request("POST", "/v1/leases/complete", body)
            if status != 200 or b'"error"' in answer:
                raise RuntimeError(f"complete many: {status} {answer[:200]!r}")
        done += len(tokens)


def _beanstalk_consumer(address, batch, barrier):
    if batch == 1:
        import greenstalk
        client = greenstalk.Client(address, watch="default")
        barrier.wait()
        done = 0
        while True:
            try:
                job = client.reserve(timeout=0)
            except greenstalk.TimedOutError:
                return done
            client.delete(job)
            done += 1
    connection = socket.create_connection(address)
    barrier.wait()
    done = 0
    buffer = b""
    while True:
        connection.sendall(b"reserve-with-timeout 0\r\n" * batch)
        ids = []
        answers = 0
        while answers < batch:
            while b"\r\n" not in buffer:
                buffer += connection.recv(1 << 16)
            line, buffer = buffer.split(b"\r\n", 1)
            answers += 1
            if line.startswith(b"RESERVED"):
                _, job_id, size = line.split()
                while len(buffer) < int(size) + 2:
                    buffer += connection.recv(1 << 16)
                buffer = buffer[int(size) + 2:]
                ids.append(job_id)
            elif line != b"TIMED_OUT":
                raise RuntimeError(f"beanstalkd answered {line!r}")
        if ids:
            connection.sendall(b"".join(b"delete " + job_id + b"\r\n" for job_id in ids))
            deleted = 0
            while deleted < len(ids):
                while b"\r\n" not in buffer:
                    buffer += connection.recv(1 << 16)
                line, buffer = buffer.split(b"\r\n", 1)
                if line != b"DELETED":
                    raise RuntimeError(f"beanstalkd answered {line!r}")
                deleted += 1
        done += len(ids)
        if len(ids) < batch:
            return done


def _consumer(target, batch, barrier, results):
    try:
        kind, address = target
        if kind == "jobq-carry":
            results.put(("ok", _jobq_carrying_consumer(address, batch, barrier)))
            return
        function = _jobq_consumer if kind == "jobq" else _beanstalk_consumer
        results.put(("ok", function(address, batch, barrier)))
    except Exception as error:  # reported to the parent, which fails the run
        results.put(("error", repr(error)))
        try:
            barrier.abort()
        except Exception:
            pass


def consume_round(target, clients, jobs, batch):
    """`jobs` prefilled jobs leased (reserved) and completed (deleted) by `clients` processes;
    jobs/s from the barrier to the last one's end."""
    prefill(target, jobs)
    elapsed, consumed = timed_clients(_consumer, [(target, batch)] * clients)
    if sum(consumed) != jobs:
        raise RuntimeError(f"{sum(consumed)} of {jobs} jobs consumed")
    return jobs / elapsed


def round_trips(target, count):
    """put → get → task_done on an idle queue, `count` times one after the other: a consumer
    waits (jobq: a lease's long poll; beanstalkd: a blocking reserve); the time runs from the
    put's send to the completion's answer. Returns the times in ms."""
    kind, address = target
    done = threading.Event()
    finished = []
    failure = []

    def consumer():
        try:
            if kind == "jobq":
                connection = JobqConnection(address)
                lease = json.dumps({"max": 1, "wait_seconds": 30, "lease_seconds": 60}).encode()
                for _ in range(count):
                    jobs = []
                    while not jobs:
                        status, answer = connection.request("POST", f"/v1/queues/{QUEUE}/lease", lease)
                        jobs = json.loads(answer)["jobs"]
                    status, _ = connection.request("POST", f"/v1/leases/{jobs[0]['lease']['token']}/complete", b"{}")
                    finished.append(time.perf_counter())
                    done.set()
            else:
                import greenstalk
                client = greenstalk.Client(address)
                for _ in range(count):
                    client.delete(client.reserve())
                    finished.append(time.perf_counter())
                    done.set()
        except Exception as error:
            failure.append(error)
            done.set()

    thread = threading.Thread(target=consumer, daemon=True)
    thread.start()
    times = []
    if kind == "jobq":
        connection = JobqConnection(address)
        body = json.dumps({"queue": QUEUE, "payload": 1}).encode()
        put = lambda: connection.request("POST", "/v1/jobs", body)  # noqa: E731
    else:
        import greenstalk
        client = greenstalk.Client(address)
        put = lambda: client.put("1", ttr=60)  # noqa: E731
    time.sleep(0.2)  # the consumer is waiting (not timed: both tools get the same head start)
    for _ in range(count):
        done.clear()
        started = time.perf_counter()
        put()
        done.wait(30)
        if failure:
            raise RuntimeError(f"the consumer failed: {failure[0]}")
        times.append((finished[-1] - started) * 1000)
    thread.join(30)
    return times


class ConsumerScenarios:
    """jobq's consumers beside beanstalkd's."""

    def consumers(self):
        jobs, rounds = self.options.consumer_jobs, self.options.rounds
        self.results["consumers"] = []
        for clients, batch in [(1, 1), (16, 1), (1, 100), (16, 100)]:
            work = self.fresh(f"consumers-{clients}-{batch}")
            daemon = Jobqd(os.path.join(self.bin, "jobqd"), os.path.join(work, "jobq"))
            os.makedirs(daemon.work)
            peers = {"beanstalkd": Beanstalkd(os.path.join(work, "bs"), None),
                     "beanstalkd -f0": Beanstalkd(os.path.join(work, "bs-f0"), 0)}
            targets = {"jobq": ("jobq", daemon.socket)}
            targets["jobq, completion carried"] = ("jobq-carry", daemon.socket)
            rates = {name: [] for name in [*targets, *peers]}
            try:
                daemon.start()
                for peer in peers.values():
                    peer.start()
                targets.update({name: ("beanstalkd", ("127.0.0.1", peer.port)) for name, peer in peers.items()})
                for round_index in range(rounds):
                    order = list(targets) if round_index % 2 == 0 else list(reversed(targets))
                    for name in order:
                        rates[name].append(consume_round(targets[name], clients, jobs, batch))
            finally:
                daemon.stop()
                for peer in peers.values():
                    peer.stop()
                shutil.rmtree(work, ignore_errors=True)
            row = {"clients": clients, "batch": batch, "jobs_per_round": jobs,
                   **{name: statistics.median(values) for name, values in rates.items()},
                   "rounds": rates}
            self.results["consumers"].append(row)
            self.say(f"consumers {clients}, batch {batch}: " +
                     ", ".join(f"{name} {statistics.median(v):,.0f}/s" for name, v in rates.items()))
        self.round_trip()

    def round_trip(self):
        count = self.options.round_trips
        work = self.fresh("round-trip")
        daemon = Jobqd(os.path.join(self.bin, "jobqd"), os.path.join(work, "jobq"))
        os.makedirs(daemon.work)
        peer = Beanstalkd(os.path.join(work, "bs-f0"), 0)
        try:
            daemon.start()
            peer.start()
            measured = {"jobq": round_trips(("jobq", daemon.socket), count),
                        "beanstalkd -f0": round_trips(("beanstalkd", ("127.0.0.1", peer.port)), count)}
        finally:
            daemon.stop()
            peer.stop()
            shutil.rmtree(work, ignore_errors=True)
        row = {"count": count}
        for name, times in measured.items():
            times.sort()
            row[name] = {"p50_ms": statistics.median(times), "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))]}
            self.say(f"round trip {name}: p50 {row[name]['p50_ms']:.2f} ms, p99 {row[name]['p99_ms']:.2f} ms")
        self.results["round_trip"] = row
