#!/usr/bin/env python3
"""How long the dashboard's pages take with a million jobs in the store.

Starts a fresh jobqd with --web, pauses its queue, stores JOBS `true` jobs (batches of 1,000 on
the socket; every 100,000th labelled `rare` and running `rare-command`), then fetches each page
ROUNDS times on one kept-alive connection and prints the median and the slowest: the newest
page, a page deep in the list (by the cursor of its last job), filters by state and label, a
search by command text, a job's page, the overview and the queues.

    Benchmarks/dashboard-pages.py [--bin .build/release] [--jobs 1000000] [--rounds 20]
"""
import argparse
import http.client
import importlib.util
import json
import os
import statistics
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("dashboard_load", os.path.join(HERE, "dashboard-load.py"))
load = importlib.util.module_from_spec(spec)
spec.loader.exec_module(load)


def fill(daemon, jobs):
    """JOBS jobs in the paused default queue; returns the seconds it took."""
    started = time.perf_counter()
    for first in range(0, jobs, 1000):
        specs = []
        for index in range(first, min(first + 1000, jobs)):
            if index % 100_000 == 0:
                specs.append({"argv": ["rare-command", str(index)], "label": "rare"})
            else:
                specs.append({"argv": ["true", str(index)]})
        status, body = load.request(daemon.socket, "POST", "/v1/jobs", json.dumps({"jobs": specs}).encode())
        if status != 201:
            raise RuntimeError(f"submit: {status} {body[:200]!r}")
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    release = os.path.join(load.ROOT, ".build", "release")
    parser.add_argument("--bin", default=release if os.path.exists(os.path.join(release, "jobqd")) else os.path.join(load.ROOT, ".build", "debug"))
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    daemon = load.Daemon(options.bin, 2)
    try:
        status, body = load.request(daemon.socket, "POST", "/v1/queues/default/pause")
        assert status == 200, body
        print(f"stored {options.jobs:,} jobs in {fill(daemon, options.jobs):.0f} s", flush=True)
        host, port, cookie = daemon.session()
        connection = http.client.HTTPConnection(host, port)
        headers = {"Cookie": cookie, "Host": f"{host}:{port}"}

        def get(path):
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{path}: {answer.status} {body[:300]!r}")
            return body.decode()

        deep = 100  # newest first, the page after job 100 is the oldest jobs' but one
        pages = [
            ("the newest jobs", "/jobs"),
            (f"the page after job {deep} (the oldest)", f"/jobs?after={deep}"),
            ("queued jobs", "/jobs?state=queued"),
            ("label rare (10 jobs)", "/jobs?label=rare"),
            ("search 'rare-command' (10 jobs)", "/jobs?q=rare-command"),
            ("search 'true 99999' (newest first)", "/jobs?q=true%2099999"),
            ("a job", f"/jobs/{options.jobs // 2}"),
            ("the overview", "/"),
            ("the queues", "/queues"),
        ]
        print(f"{'page':40} {'median':>9} {'slowest':>9}")
        for name, path in pages:
            times = []
            for _ in range(options.rounds):
                began = time.perf_counter()
                get(path)
                times.append(time.perf_counter() - began)
            print(f"{name:40} {statistics.median(times) * 1000:7.1f} ms {max(times) * 1000:7.1f} ms", flush=True)
    finally:
        daemon.stop()


if __name__ == "__main__":
    main()
