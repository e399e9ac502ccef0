"""Scenarios against the daemons: durable API submits, end to end, memory and start-up."""
import json
import os
import shutil
import statistics
import subprocess
import time

from tools import Beanstalkd, Jobqd, api_round, nq_wait_all, run_checked, tsp_wait_all, which


class DaemonScenarios:
    """The scenarios that talk to the daemons over their sockets."""

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
