#!/usr/bin/env python3
"""Raw-socket HTTP fuzzer: for --seconds, several connections at once send malformed HTTP to
the real daemon (truncated, oversized, binary, pipelined garbage, lying lengths, bad chunking,
deeply nested and invalid JSON), while a well-behaved client submits and reads every 20 ms.

- the daemon stays up and the well-behaved client gets every answer right, throughout;
- no malformed request gets a 5xx;
- every malformed connection ends (answered or closed) within 10 s: none is left hanging;
- at the end the store is sound (integrity_check) and holds exactly the well-behaved jobs.

    scripts/reliability/fuzz_http.py [--seconds 60] [--seed N]
"""

import argparse
import json
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, all_jobs, integrity  # noqa: E402

ROUTES = [b"/healthz", b"/v1/status", b"/v1/jobs", b"/v1/jobs/1", b"/v1/jobs/1/cancel", b"/v1/jobs/1/logs?stream=out",
          b"/v1/wait", b"/v1/queues", b"/v1/queues/default/join", b"/metrics", b"/v1/events", b"/v1/prune"]
METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS", b"TRACE", b"CONNECT", b"BREW", b"G\x00T"]


def request(method, target, headers=(), body=b"", length=None):
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: localhost"] + list(headers)
    if body or length is not None:
        lines.append(b"Content-Length: " + str(len(body) if length is None else length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def cases(rng):
    """Malformed inputs: (name, bytes to send, whether to half-close after sending)."""
    valid = request(b"POST", b"/v1/jobs", [b"Content-Type: application/json"], b'{"argv":["true"],"queue":"fuzz"}')
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4096)))
    depth = rng.randrange(1000, 200000)
    yield "random bytes", junk, rng.random() < 0.5
    yield "truncated head", valid[:rng.randrange(1, valid.index(b"\r\n\r\n"))], True
    yield "truncated body", valid[:-rng.randrange(1, 20)], True
    yield "body shorter than Content-Length", request(b"POST", b"/v1/jobs", [], b"{}", length=1 << 30), True
    yield "negative Content-Length", request(b"POST", b"/v1/jobs", [b"Content-Length: -5"], b"{}"), False
    yield "two Content-Lengths", request(b"POST", b"/v1/jobs", [b"Content-Length: 2", b"Content-Length: 40"], b"{}"), False
    yield "oversized header", request(b"GET", b"/v1/status", [b"X-Big: " + b"a" * rng.randrange(17000, 200000)]), False
    yield "ten thousand headers", request(b"GET", b"/v1/status", [b"X-%d: y" % i for i in range(10000)]), False
    yield "oversized body", request(b"POST", b"/v1/jobs", [b"Content-Type: application/json"],
                                    b'{"argv":["' + b"x" * (2 << 20) + b'"]}'), False
    yield "huge URL", b"GET /" + b"a" * rng.randrange(10000, 100000) + b" HTTP/1.1\r\nHost: x\r\n\r\n", False
    yield "bad percent-encoding", request(b"GET", b"/v1/jobs?state=%zz%%&label=%ff%fe&limit=1e999"), False
    yield "unknown method", request(rng.choice(METHODS), rng.choice(ROUTES)), False
    yield "no HTTP version", b"GET /healthz\r\n\r\n", False
    yield "HTTP/0.9", b"GET /healthz\n", True
    yield "HTTP/9.9", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", False
    yield "bare LF line ends", b"GET /healthz HTTP/1.1\nHost: x\n\n", False
    yield "NUL in header", b"GET /healthz HTTP/1.1\r\nHost: x\x00y\r\n\r\n", False
    yield "bad chunk size", (b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"zz\r\n{}\r\n0\r\n\r\n"), False
    yield "endless chunks cut", (b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 + b"1\r\n[\r\n" * rng.randrange(1, 5000)), True
    yield "chunked and Content-Length", (b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                         b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), False
    yield "deeply nested JSON", request(b"POST", rng.choice([b"/v1/jobs", b"/v1/wait", b"/v1/queues/default/join"]),
                                        [b"Content-Type: application/json"], b"[" * depth + b"]" * depth), False
    yield "nested objects", request(b"POST", b"/v1/jobs", [b"Content-Type: application/json"],
                                    b'{"argv":' * depth + b"1" + b"}" * depth), False
    yield "invalid UTF-8 JSON", request(b"POST", b"/v1/jobs", [b"Content-Type: application/json"],
                                        b'{"argv":["\xff\xfe\xc0\x80"],"label":"\xed\xa0\x80"}'), False
    yield "huge numbers", request(b"POST", b"/v1/jobs", [], b'{"argv":["true"],"priority":1e400,"timeout_seconds":-0,'
                                  b'"after":[99999999999999999999999]}'), False
    yield "wrong types", request(b"PUT", b"/v1/queues/default/concurrency", [], b'{"concurrency":"many"}'), False
    yield "pipelined garbage", valid + junk, False
    yield "many pipelined requests", request(b"GET", b"/healthz") * rng.randrange(2, 500), False
    yield "pipelined then cut", request(b"GET", b"/v1/status") * 3 + valid[:30], True


class Fuzzer(threading.Thread):
    def __init__(self, socket_path, end, seed, stats, lock):
        super().__init__(daemon=True)
        self.socket_path, self.end, self.rng, self.stats, self.lock = socket_path, end, random.Random(seed), stats, lock

    def run(self):
        while time.monotonic() < self.end:
            for name, data, half_close in cases(self.rng):
                if time.monotonic() >= self.end:
                    return
                self.send(name, data, half_close)

    def send(self, name, data, half_close):
        started = time.monotonic()
        answer = b""
        outcome = "closed"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(self.socket_path)
                try:
                    s.sendall(data)
                    if half_close:
                        s.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon closed early: allowed
                expected = max(1, data.count(b" HTTP/1.1\r\n"))
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    try:
                        chunk = s.recv(65536)
                    except socket.timeout:
                        if answer.count(b"HTTP/1.1 ") >= expected:
                            break  # every answer came, and the connection stays open (keep-alive)
                        raise
                    if not chunk:
                        break
                    answer += chunk
                    if not half_close and answer.count(b"HTTP/1.1 ") >= expected:
                        s.settimeout(0.2)  # the rest of the last answer, then done
        except socket.timeout:
            outcome = "hung"
        except (ConnectionResetError, BrokenPipeError):
            outcome = "reset"
        except OSError as error:
            outcome = f"error {error.errno}"
        statuses = [int(part[:3]) for part in answer.split(b"HTTP/1.1 ")[1:] if part[:3].isdigit()]
        with self.lock:
            self.stats["sent"] += 1
            self.stats["responses"] += len(statuses)
            for status in statuses:
                self.stats["by_class"][f"{status // 100}xx"] = self.stats["by_class"].get(f"{status // 100}xx", 0) + 1
                if status >= 500:
                    self.stats["server_errors"].append((name, status, answer[:300]))
            if outcome == "hung" and not statuses:
                self.stats["hung"].append(name)
            self.stats["cases"][name] = self.stats["cases"].get(name, 0) + 1
            self.stats["seconds"][name] = self.stats["seconds"].get(name, 0) + time.monotonic() - started


def main(results):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=4, help="fuzzing connections at once")
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    print(f"fuzzing for {options.seconds:g} s on {options.connections} connections, seed {seed}", flush=True)

    with Workdir("fuzz") as work:
        daemon = work.daemon(args=["--workers", "2"])
        daemon.start()
        client = Client(daemon.socket)
        status, _ = client.request("POST", "/v1/queues/fuzz/pause")  # what garbage might submit never runs
        stats = {"sent": 0, "responses": 0, "by_class": {}, "server_errors": [], "hung": [], "cases": {}, "seconds": {}}
        lock = threading.Lock()
        end = time.monotonic() + options.seconds
        fuzzers = [Fuzzer(daemon.socket, end, seed + i, stats, lock) for i in range(options.connections)]
        for f in fuzzers:
            f.start()
        good, good_failures, good_ids = 0, [], []
        while time.monotonic() < end:
            try:
                status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "good"})
                if status == 201:
                    good_ids.append(answer["jobs"][0]["id"])
                else:
                    good_failures.append(("submit", status))
                status, _ = client.request("GET", "/healthz")
                if status != 200:
                    good_failures.append(("healthz", status))
                good += 2
            except OSError as error:
                good_failures.append(("connection", repr(error)))
                if daemon.process.poll() is not None:
                    break
            time.sleep(0.02)
        for f in fuzzers:
            f.join(60)
        print(f"  {stats['sent']} malformed requests sent ({len(stats['cases'])} kinds), {stats['responses']} answers "
              f"{dict(sorted(stats['by_class'].items()))}; the well-behaved client made {good} requests", flush=True)
        slowest = sorted(stats["seconds"].items(), key=lambda kv: -kv[1])[:4]
        print("  slowest kinds (s in all): " + ", ".join(f"{k} {v:.1f}" for k, v in slowest), flush=True)
        results.check("the daemon stayed up", daemon.process.poll() is None, f"exit {daemon.process.returncode}: {daemon.log_tail()}")
        results.check("the well-behaved client got every answer right", not good_failures, f"{good_failures[:5]}")
        results.check("no malformed request got a 5xx", not stats["server_errors"], f"{stats['server_errors'][:3]}")
        hung = sorted(set(stats["hung"]))
        results.check("no malformed connection was left hanging (10 s)", not hung, f"{len(stats['hung'])}: {hung}")
        jobs = all_jobs(client)
        fuzz_jobs = [j for j in jobs if j["spec"]["queue"] != "good"]
        results.check("the store holds the well-behaved jobs", {j["id"] for j in jobs if j["spec"]["queue"] == "good"} == set(good_ids))
        print(f"  {len(fuzz_jobs)} jobs were submitted by valid requests among the fuzz (queue fuzz, paused)", flush=True)
        client.close()
        results.check("the daemon stops cleanly", daemon.stop() == 0)
        results.check("PRAGMA integrity_check", integrity(daemon.state_dir) == ["ok"])


if __name__ == "__main__":
    run("fuzz-http", main)
