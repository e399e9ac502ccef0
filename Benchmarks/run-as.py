#!/usr/bin/env python3
"""The cost of running jobs as their submitters: end-to-end jobs/s and jobqd's CPU per job
with `run_as = submitter` beside the default (`daemon`), on the same release binaries.

    sudo Benchmarks/run-as.py [--rounds N] [--jobs N] [BIN]

Needs root: it creates a system account (removed at the end) that submits every job, in one
batch of N `true` commands (cwd /), on a fresh jobqd per round with 2 workers. With the
default, the jobs run as the daemon's user (root); with `submitter`, as that account (the
spawn then also sets groups, gid, uid and no_new_privs, and the job's user is looked up in the
password database). The modes alternate, order reversed every other round; medians.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_seconds, exchange  # noqa: E402
USER = "jobqbench-runas"


def request(path, method, target, body=b"", uid=None, gid=None):
    """One request on a new connection; as `uid`/`gid` in a child process when given (its
    SO_PEERCRED then names that user)."""
    if uid is None:
        return exchange(path, method, target, body)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.write(write, exchange(path, method, target, body)[:200])
        os._exit(0)
    os.close(write)
    answer = b""
    while chunk := os.read(read, 1 << 16):
        answer += chunk
    os.close(read)
    os.waitpid(child, 0)
    return answer


def round_of(bin_dir, work, mode, jobs, uid, gid):
    state = tempfile.mkdtemp(dir=work)
    os.chmod(state, 0o755)
    sock = os.path.join(state, "sock")
    daemon = subprocess.Popen(
        [os.path.join(bin_dir, "jobqd"), "--state-dir", os.path.join(state, "state"), "--socket", sock,
         "--workers", "2", "--log-level", "warning", "--run-as", mode],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(state, "log"), "w"))
    try:
        for _ in range(400):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        os.chmod(sock, 0o666)
        body = json.dumps({"jobs": [{"argv": ["true"], "cwd": "/"}] * jobs}).encode()
        cpu = cpu_seconds(daemon.pid)
        started = time.monotonic()
        answer = request(sock, "POST", "/v1/jobs", body, uid=uid, gid=gid)
        if b" 201 " not in answer.split(b"\r\n", 1)[0] + b" ":
            sys.exit(f"run-as: the submit failed: {answer[:200]!r}")
        joined = request(sock, "POST", "/v1/join", b"{}")
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(daemon.pid) - cpu
        status = json.loads(request(sock, "GET", "/v1/status").split(b"\r\n\r\n", 1)[1])
        if b'"done":true' not in joined.replace(b" ", b"") or status["states"].get("succeeded") != jobs:
            sys.exit(f"run-as: {status['states']} after the join ({mode})")
        return jobs / elapsed, cpu * 1e6 / jobs
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(state, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("bin", nargs="?", default=os.path.join(ROOT, ".build/release"))
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run-as: creates an account and runs jobs as it: run as root")
    subprocess.run(["userdel", USER], capture_output=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
    work = tempfile.mkdtemp(prefix="jobq-run-as.", dir="/var/tmp")
    os.chmod(work, 0o755)
    try:
        uid = int(subprocess.run(["id", "-u", USER], capture_output=True, text=True, check=True).stdout)
        gid = int(subprocess.run(["id", "-g", USER], capture_output=True, text=True, check=True).stdout)
        results = {"daemon": [], "submitter": []}
        for number in range(options.rounds):
            for mode in (["daemon", "submitter"] if number % 2 == 0 else ["submitter", "daemon"]):
                rate, cpu = round_of(options.bin, work, mode, options.jobs, uid, gid)
                results[mode].append((rate, cpu))
                print(f"round {number + 1}, {mode}: {rate:,.0f} jobs/s, jobqd {cpu:.0f} us a job", flush=True)
        medians = {mode: (statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs))
                   for mode, runs in results.items()}
        print(f"\n{options.jobs} `true` jobs a round, {options.rounds} rounds, medians:")
        print("| run_as | jobs/s end to end | jobqd CPU a job |")
        print("|---|---:|---:|")
        for mode, (rate, cpu) in medians.items():
            print(f"| {mode} | {rate:,.0f} | {cpu:.0f} µs |")
        ratio = medians["submitter"][0] / medians["daemon"][0]
        print(f"\nsubmitter / daemon: {ratio:.2f}x the jobs/s (must stay within 15 %: at least 0.85x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run(["userdel", USER], capture_output=True)


if __name__ == "__main__":
    main()
