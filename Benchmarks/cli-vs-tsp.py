#!/usr/bin/env python3
"""`jobq submit -- true` against task-spooler's `tsp true`, one process per submit, N of each,
in alternating rounds of 200 in one run; submits/s and p50/p99 latency of each.

    Benchmarks/cli-vs-tsp.py [--jobs N] [--bin DIR]

DIR holds release builds of jobq and jobqd (default: the main package's .build/release).
jobqd runs with durability=full on a temporary socket, so each `jobq submit` returns after an
fsync; both tools run their `true` jobs as they come (jobqd with 2 workers, tsp with 2 slots).
Installs task-spooler from Debian when it is missing.
"""
import argparse, os, shutil, socket, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser()
parser.add_argument("--jobs", type=int, default=2000)
parser.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "release"))
parser.add_argument("--jobq", help="the jobq to measure (default: DIR/jobq; make bench gives the static executable make install installs)")
args = parser.parse_args()
jobq, jobqd = args.jobq or os.path.join(args.bin, "jobq"), os.path.join(args.bin, "jobqd")
if shutil.which("tsp") is None:
    subprocess.run(["apt-get", "install", "-y", "-qq", "task-spooler"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})

work = tempfile.mkdtemp(prefix="jobq-cli-bench-")
sock = os.path.join(work, "jobq.sock")
notify_path = os.path.join(work, "notify.sock")
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(notify_path)
daemon = subprocess.Popen([jobqd, "--state-dir", os.path.join(work, "state"), "--socket", sock, "--log-level", "warning"],
                          env={**os.environ, "NOTIFY_SOCKET": notify_path})
while b"READY=1" not in notify.recv(4096).split(b"\n"):
    pass

tsp_env = {**os.environ, "TS_SOCKET": os.path.join(work, "tsp.sock"), "TS_MAXFINISHED": str(args.jobs + 10), "TS_SAVELIST": ""}
subprocess.run(["tsp", "-S", "2"], env=tsp_env, check=True, stdout=subprocess.DEVNULL)
jobq_env = {**os.environ, "JOBQ_SOCKET": sock}
commands = {"jobq": ([jobq, "submit", "--", "true"], jobq_env), "tsp": (["tsp", "-n", "true"], tsp_env)}
latencies = {name: [] for name in commands}
wall = {name: 0.0 for name in commands}
done = 0
while done < args.jobs:
    size = min(200, args.jobs - done)
    for name, (argv, env) in commands.items():
        start = time.perf_counter()
        for _ in range(size):
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
            latencies[name].append(time.perf_counter() - t0)
        wall[name] += time.perf_counter() - start
    done += size

daemon.terminate()
daemon.wait()
subprocess.run(["tsp", "-K"], env=tsp_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(work, ignore_errors=True)

def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

rates = {}
for name in commands:
    rates[name] = args.jobs / wall[name]
    print(f"{name:5} {args.jobs} submits: {rates[name]:6.0f} submits/s, p50 {pct(latencies[name], 50):.2f} ms, p99 {pct(latencies[name], 99):.2f} ms")
print(f"ratio jobq/tsp: {rates['jobq'] / rates['tsp']:.2f}x submits/s; p99 {pct(latencies['jobq'], 99) / pct(latencies['tsp'], 99):.2f}x of tsp's")
