#!/usr/bin/env python3
"""Load and slow clients: --connections at once against the real daemon, of which a fifth are
bad: half of those connect and send nothing, half send a request one byte a second. The others
each send a request a second on a keep-alive connection (healthz, status, a list page, and a
submit one time in ten). Meanwhile a well-behaved client, in a process of its own, sends
GET /healthz every 10 ms on a new connection and measures the answer's latency.

- its p99 stays under 50 ms (--p99-ms; 0 reports it without a bound);
- every submit is answered 201, every other request 200;
- every connection stays open (none refused: the limit is 4096) and the daemon is up at the end.

    scripts/reliability/load.py [--connections 1000] [--seconds 30]
"""

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir  # noqa: E402


def probe(socket_path, seconds):
    """The well-behaved client: a new connection per GET /healthz, every 10 ms; prints the
    latencies (ms) and failures as JSON."""
    latencies, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(socket_path)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            if not data.startswith(b"HTTP/1.1 200"):
                failures += 1
        except OSError:
            failures += 1
        latencies.append((time.monotonic() - started) * 1000)
        time.sleep(max(0, 0.01 - (time.monotonic() - started)))
    print(json.dumps({"latencies": latencies, "failures": failures}))


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def active_client(socket_path, end, stats, rng):
    reader, writer = await asyncio.open_unix_connection(socket_path)
    stats["open"] += 1
    await asyncio.sleep(rng.random())  # spread the clients over the second
    try:
        while time.monotonic() < end:
            started = time.monotonic()
            pick = rng.random()
            if pick < 0.1:
                body = json.dumps({"argv": ["true"], "queue": "load"}).encode()
                request = (b"POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                expect = 201
            else:
                target = rng.choice([b"/healthz", b"/v1/status", b"/v1/jobs?limit=20"])
                request = b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
                expect = 200
            writer.write(request)
            await writer.drain()
            status = await read_response(reader)
            key = "submits" if expect == 201 else "reads"
            stats[key] += 1
            if status != expect:
                stats["bad"].append(status)
            await asyncio.sleep(max(0, 1 - (time.monotonic() - started)))
    except (OSError, asyncio.IncompleteReadError) as error:
        stats["errors"].append(repr(error))
    finally:
        writer.close()


async def idle_client(socket_path, end, stats):
    reader, writer = await asyncio.open_unix_connection(socket_path)
    stats["open"] += 1
    await asyncio.sleep(max(0, end - time.monotonic()))
    stats["idle_alive"] += 0 if reader.at_eof() else 1
    writer.close()


async def slow_client(socket_path, end, stats):
    reader, writer = await asyncio.open_unix_connection(socket_path)
    stats["open"] += 1
    request = b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
    try:
        for byte in request:
            if time.monotonic() >= end:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1)
        stats["slow_alive"] += 0 if reader.at_eof() else 1
    except OSError as error:
        stats["errors"].append(repr(error))
    finally:
        writer.close()


async def load(socket_path, connections, seconds, stats):
    end = time.monotonic() + seconds
    rng = random.Random(7)
    bad = connections // 5
    tasks = []
    for i in range(connections):
        if i < bad // 2:
            tasks.append(idle_client(socket_path, end, stats))
        elif i < bad:
            tasks.append(slow_client(socket_path, end, stats))
        else:
            tasks.append(active_client(socket_path, end, stats, rng))
    await asyncio.gather(*tasks)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main(results):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--p99-ms", type=float, default=50.0, help="the healthz p99 bound (0: report only)")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, options.connections + 1024)), hard))

    with Workdir("load") as work:
        daemon = work.daemon(args=["--workers", "2"])
        daemon.start()
        stats = {"open": 0, "reads": 0, "submits": 0, "bad": [], "errors": [], "idle_alive": 0, "slow_alive": 0}
        prober = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--probe", daemon.socket,
                                   str(options.seconds)], stdout=subprocess.PIPE, text=True)
        asyncio.run(load(daemon.socket, options.connections, options.seconds, stats))
        measured = json.loads(prober.communicate(timeout=options.seconds + 60)[0])
        latencies = measured["latencies"]
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        bad = options.connections // 5
        print(f"  {options.connections} connections ({bad // 2} idle, {bad - bad // 2} one byte a second) for "
              f"{options.seconds} s: {stats['reads']} reads, {stats['submits']} submits; probe: "
              f"{len(latencies)} healthz, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies):.2f} ms", flush=True)
        results.check("every connection was accepted", stats["open"] == options.connections, f"{stats['open']}")
        if options.p99_ms > 0:
            results.check(f"the well-behaved client's healthz p99 is under {options.p99_ms:g} ms",
                          p99 < options.p99_ms, f"p99 {p99:.2f} ms")
        else:
            print("  (--p99-ms 0: the latency is reported, not checked)", flush=True)
        results.check("every healthz of the well-behaved client answered 200", measured["failures"] == 0,
                      f"{measured['failures']} failed")
        results.check("every submit answered 201 and every read 200", not stats["bad"] and stats["submits"] > 0,
                      f"{len(stats['bad'])} bad: {stats['bad'][:5]}")
        results.check("no active client lost its connection", not stats["errors"], f"{stats['errors'][:3]}")
        results.check("the idle and slow connections were still open at the end (no timeout yet: 60 s)",
                      stats["idle_alive"] + stats["slow_alive"] == bad or options.seconds >= 60,
                      f"{stats['idle_alive']} idle, {stats['slow_alive']} slow")
        client = Client(daemon.socket)
        status, body = client.request("GET", "/v1/status")
        results.check("the daemon serves after the load", status == 200, f"{status}")
        client.close()
        results.check("the daemon stops cleanly", daemon.stop() == 0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        probe(sys.argv[2], float(sys.argv[3]))
    else:
        run("load", main)
