"""PostgreSQL: jobq nodes on one private PostgreSQL cluster beside pgqueuer and procrastinate on
the same server, each tool on a database of its own. Rows: enqueue single and batched, dequeue +
complete, end to end (`true`) with 1 and 3 nodes, and `sleep 0.05` jobs from 1 to 3 nodes. The
peers run through pg_peer.py (their documented APIs), one process per worker ("node")."""
import json
import os
import subprocess
import sys
import threading
import time

from consumer_scenarios import QUEUE, _jobq_consumer, prefill
from tools import JobqConnection, Jobqd

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER = os.path.join(ROOT, "scripts", "postgres-cluster.sh")
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pg_peer.py")
PEERS = ("pgqueuer", "procrastinate")


class _NoBarrier:
    def wait(self, timeout=None):
        pass


class PostgresScenarios:
    """The `postgres` scenario."""

    def postgres(self):
        os.chmod(self.root, 0o755)  # the cluster runs as the postgres user when root runs this
        self.pg_cluster = os.path.join(self.root, "postgres")
        self.pg_databases = 0
        subprocess.run(["bash", CLUSTER, "start", self.pg_cluster], check=True, capture_output=True)
        try:
            o = self.options
            rows = []
            for label, count, batch in (("enqueue, single", o.pg_single, 1), (f"enqueue, batches of {o.batch:,}", o.pg_batched, o.batch)):
                row = {"row": label, "jobs": count, "jobq": self.pg_jobq_enqueue(count, batch)}
                for peer in PEERS:
                    row[peer] = self.pg_peer_enqueue(peer, count, batch)
                rows.append(row)
                self.say(f"postgres {label}: {row}")
            row = {"row": "dequeue + complete (1 consumer or worker, batches of 100)", "jobs": o.pg_consume,
                   "jobq": self.pg_jobq_consume(o.pg_consume)}
            for peer in PEERS:
                row[peer] = self.pg_peer_work(peer, o.pg_consume, nodes=1, concurrency=10, job="noop", enqueue_counted=False)
            rows.append(row)
            self.say(f"postgres dequeue: {row}")
            for job, count, workers in (("true", o.pg_e2e, 2), ("sleep", o.pg_sleep, 8)):
                for nodes in (1, 3):
                    label = (f"end to end, `true`, {nodes} node{'s' if nodes > 1 else ''} × 2 workers" if job == "true" else
                             f"`sleep 0.05` jobs, {nodes} node{'s' if nodes > 1 else ''} × 8 workers")
                    row = {"row": label, "jobs": count, "jobq": self.pg_jobq_run(count, nodes, workers, job)}
                    for peer in PEERS:
                        row[peer] = self.pg_peer_work(peer, count, nodes=nodes, concurrency=workers, job=job, enqueue_counted=True)
                    rows.append(row)
                    self.say(f"postgres {label}: {row}")
            self.results["postgres"] = rows
        finally:
            subprocess.run(["bash", CLUSTER, "stop", self.pg_cluster], capture_output=True)

    # -------------------------------------------------------------- databases and nodes

    def pg_database(self):
        """A new, empty database of the cluster: (jobq's store URL, a libpq DSN for the peers)."""
        self.pg_databases += 1
        name = f"bench{self.pg_databases}"
        subprocess.run(["bash", CLUSTER, "createdb", self.pg_cluster, name], check=True, capture_output=True)
        socket_dir = os.path.join(self.pg_cluster, "socket")
        return f"postgresql://jobq@localhost/{name}?host={socket_dir}", f"postgresql://jobq@/{name}?host={socket_dir}"

    def pg_nodes(self, url, count, workers):
        nodes = []
        for n in range(count):
            work = self.fresh(f"pg-node{n}")
            node = Jobqd(os.path.join(self.bin, "jobqd"), work, workers=workers,
                         args=["--store", url, "--node", f"node{n}"])
            node.start()
            nodes.append(node)
        return nodes

    # -------------------------------------------------------------- jobq

    def pg_jobq_enqueue(self, count, batch):
        url, _ = self.pg_database()
        (node,) = self.pg_nodes(url, 1, 2)
        try:
            node.pause(QUEUE)
            connection = JobqConnection(node.socket)
            spec = {"argv": ["true"], "queue": QUEUE}
            body = json.dumps(spec if batch == 1 else {"jobs": [spec] * batch}).encode()
            started = time.perf_counter()
            for _ in range(count // batch):
                status, answer = connection.request("POST", "/v1/jobs", body)
                if status != 201:
                    raise RuntimeError(f"jobqd answered {status}: {answer[:200]!r}")
            elapsed = time.perf_counter() - started
            connection.close()
            return count // batch * batch / elapsed
        finally:
            node.stop()

    def pg_jobq_consume(self, count):
        url, _ = self.pg_database()
        (node,) = self.pg_nodes(url, 1, 2)
        try:
            prefill(("jobq", node.socket), count)
            started = time.perf_counter()
            done = _jobq_consumer(node.socket, 100, _NoBarrier(), done_next=True)
            elapsed = time.perf_counter() - started
            if done != count:
                raise RuntimeError(f"the consumer completed {done} of {count}")
            return count / elapsed
        finally:
            node.stop()

    def pg_jobq_run(self, count, nodes, workers, job):
        url, _ = self.pg_database()
        started_nodes = self.pg_nodes(url, nodes, workers)
        try:
            argv = ["true"] if job == "true" else ["sleep", "0.05"]
            connection = JobqConnection(started_nodes[0].socket)
            started = time.perf_counter()
            done = 0
            while done < count:
                size = min(1000, count - done)
                status, answer = connection.request("POST", "/v1/jobs", json.dumps({"jobs": [{"argv": argv}] * size}).encode())
                if status != 201:
                    raise RuntimeError(f"jobqd answered {status}: {answer[:200]!r}")
                done += size
            status, answer = connection.request("POST", "/v1/join", json.dumps({"timeout_seconds": 900}).encode())
            elapsed = time.perf_counter() - started
            connection.close()
            if status != 200 or not json.loads(answer)["done"]:
                raise RuntimeError(f"join: {status} {answer[:200]!r}")
            return count / elapsed
        finally:
            for node in started_nodes:
                node.stop()

    # -------------------------------------------------------------- peers

    def pg_peer(self, *arguments):
        out = subprocess.run([sys.executable, PEER, *map(str, arguments)], check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def pg_peer_enqueue(self, peer, count, batch):
        _, dsn = self.pg_database()
        self.pg_peer(peer, "install", dsn)
        return count // batch * batch / self.pg_peer(peer, "enqueue", dsn, count, batch)["seconds"]

    def pg_peer_work(self, peer, count, nodes, concurrency, job, enqueue_counted):
        """Jobs/s of `nodes` worker processes draining `count` jobs; with `enqueue_counted`, the
        time of the batched enqueue is added (end to end: from the first enqueue to the last
        job's end; the workers' start-up is not counted)."""
        _, dsn = self.pg_database()
        self.pg_peer(peer, "install", dsn)
        enqueued = self.pg_peer(peer, "enqueue", dsn, count, 1000)["seconds"]
        spans = [None] * nodes

        def worker(index):
            spans[index] = self.pg_peer(peer, "work", dsn, "--concurrency", concurrency, "--job", job)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(nodes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ran = sum(span["jobs"] for span in spans)
        if ran != count:
            raise RuntimeError(f"{peer}'s workers ran {ran} of {count} jobs")
        elapsed = max(span["done"] for span in spans) - min(span["ready"] for span in spans)
        return count / (elapsed + (enqueued if enqueue_counted else 0))
