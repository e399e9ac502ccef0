#!/usr/bin/env python3
"""jobqd's end-to-end rate with and without the dashboard's overview open in N browsers.

Each round starts a fresh jobqd with --web on a loopback port, then runs JOBS `true` jobs
(submitted in batches of 1,000 on the socket, then a join) once with no browser and once with
BROWSERS of them open on the overview: each holds the page's event stream (/api/v1/events?every=1,
a summary of the changes at most once a second) and,
as the page script does, fetches the overview again after events, at most once a second (and
once when its stream opens). The browsers run in a process of their own, on the same cores as
jobqd, as they would on a desktop. The order of the two runs alternates between rounds; the
medians and their ratio are printed, with how many events and overview pages the browsers got.

    Benchmarks/dashboard-load.py [--bin .build/release] [--jobs 10000] [--browsers 20] [--rounds 3]
"""
import argparse
import asyncio
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def request(path, method, target, body=b""):
    """One HTTP/1.1 request on jobqd's Unix socket; the status and the body."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: jobq\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), rest


class Daemon:
    def __init__(self, binaries, workers):
        self.directory = tempfile.mkdtemp(prefix="jobq-dashboard-load-")
        self.socket = os.path.join(self.directory, "jobq.sock")
        notify_path = os.path.join(self.directory, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path, JOBQ_LOG_LEVEL="warning")
        self.binaries = binaries
        self.process = subprocess.Popen(
            [os.path.join(binaries, "jobqd"), "--state-dir", os.path.join(self.directory, "state"), "--socket", self.socket,
             "--web", "127.0.0.1:0", "--workers", str(workers)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            readable, _, _ = select.select([notify], [], [], 1.0)
            if readable and "READY=1" in notify.recv(4096).decode().split("\n"):
                notify.close()
                return
        raise RuntimeError("jobqd did not start")

    def session(self):
        """A signed-in session: the dashboard's address and its cookie."""
        link = json.loads(subprocess.run([os.path.join(self.binaries, "jobq-cli"), "--socket", self.socket, "dashboard", "--json"],
                                         check=True, capture_output=True, text=True).stdout)["url"]
        base = link.split("/sign-in")[0]
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"GET {link[len(base):]} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            head = b""
            while chunk := sock.recv(4096):
                head += chunk
        cookie = next(line.split(b": ", 1)[1].split(b";")[0].decode() for line in head.split(b"\r\n")
                      if line.lower().startswith(b"set-cookie: jobq_session="))
        return host, int(port), cookie

    def run(self, jobs):
        """Jobs/s from the first submit to the join's answer."""
        spec = json.dumps({"jobs": [{"argv": ["true"]}] * 1000}).encode()
        started = time.perf_counter()
        for _ in range(jobs // 1000):
            status, body = request(self.socket, "POST", "/v1/jobs", spec)
            if status != 201:
                raise RuntimeError(f"submit: {status} {body[:200]!r}")
        status, body = request(self.socket, "POST", "/v1/join", b'{"timeout_seconds": 900}')
        if status != 200 or not json.loads(body)["done"]:
            raise RuntimeError(f"join: {status} {body[:200]!r}")
        return jobs / (time.perf_counter() - started)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        shutil.rmtree(self.directory, ignore_errors=True)


# ------------------------------------------------------------------ the browsers' process

async def browser(host, port, cookie, counts):
    """One overview page: its event stream, and the page fetched again after events, at most
    once a second."""
    dirty = asyncio.Event()
    dirty.set()  # the page's first load

    async def fetch_overview(reader, writer):
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\nAccept: text/html\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        counts["pages"] += 1

    async def pages():
        reader, writer = await asyncio.open_connection(host, port)
        while True:
            await dirty.wait()
            dirty.clear()
            began = time.monotonic()
            await fetch_overview(reader, writer)
            await asyncio.sleep(max(0, 1 - (time.monotonic() - began)))

    async def events():
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET /api/v1/events?every=1 HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        dirty.set()  # the script refreshes once its stream opens
        while line := await reader.readline():
            if line.startswith(b"event:"):
                counts["events"] += 1
                dirty.set()

    await asyncio.gather(pages(), events())


def browse(host, port, cookie, count):
    counts = {"events": 0, "pages": 0}

    def report(*_):
        print(json.dumps(counts), flush=True)
        os._exit(0)
    signal.signal(signal.SIGTERM, report)

    async def main():
        await asyncio.gather(*(browser(host, port, cookie, counts) for _ in range(count)))
    asyncio.run(main())


# ------------------------------------------------------------------ the benchmark

def measure(binaries, jobs, browsers, workers):
    daemon = Daemon(binaries, workers)
    watchers = None
    try:
        if browsers:
            host, port, cookie = daemon.session()
            watchers = subprocess.Popen([sys.executable, __file__, "--browse", host, str(port), cookie, str(browsers)],
                                        stdout=subprocess.PIPE, text=True)
            time.sleep(2)  # the pages' first loads and their streams open
        rate = daemon.run(jobs)
        counts = None
        if watchers:
            watchers.send_signal(signal.SIGTERM)
            counts = json.loads(watchers.communicate(timeout=30)[0])
        return rate, counts
    finally:
        if watchers and watchers.poll() is None:
            watchers.kill()
        daemon.stop()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--browse":
        return browse(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    release = os.path.join(ROOT, ".build", "release")
    parser.add_argument("--bin", default=release if os.path.exists(os.path.join(release, "jobqd")) else os.path.join(ROOT, ".build", "debug"))
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--browsers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    without, with_browsers = [], []
    for round_ in range(options.rounds):
        order = [0, options.browsers] if round_ % 2 == 0 else [options.browsers, 0]
        for browsers in order:
            rate, counts = measure(options.bin, options.jobs, browsers, options.workers)
            (with_browsers if browsers else without).append(rate)
            seen = f" ({counts['events']} events, {counts['pages']} overview pages)" if counts else ""
            print(f"round {round_ + 1}: {browsers:2d} browsers: {rate:7.0f} jobs/s{seen}", flush=True)
    base, loaded = statistics.median(without), statistics.median(with_browsers)
    print(f"median without: {base:.0f} jobs/s; with {options.browsers} browsers: {loaded:.0f} jobs/s; "
          f"ratio {loaded / base:.3f} ({(1 - loaded / base) * 100:+.1f} % slower)")


if __name__ == "__main__":
    main()
