#!/usr/bin/env python3
"""Jobs that misbehave, on the real daemon: each ends in a recorded state, no process of it
outlives its teardown (no process carrying its JOBQ_JOB_ID is left), and the log cap holds.

- a job that forks a daemon (setsid, its own session) and exits;
- a job that leaves a background child in its process group and exits;
- a job that ignores SIGTERM and runs past its timeout;
- a job that writes 1 GiB to stdout (the cap is set to 1 MiB here);
- a job that closes its stdout early and goes on;
- a job whose working directory is removed while it runs, and one whose directory is gone
  before it starts.

    scripts/reliability/misbehaving_jobs.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, wait_jobs  # noqa: E402

CAP = 1 << 20


def processes_of(state_dir, job_id):
    """Processes (not zombies) whose environment carries the job's mark."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if f"JOBQ_STATE_DIR={state_dir}".encode() in env and f"JOBQ_JOB_ID={job_id}".encode() in env:
            found.append(int(entry))
    return found


def main(results):
    with Workdir("misbehave") as work:
        daemon = work.daemon(args=["--workers", "8"], env={"JOBQ_OUTPUT_LIMIT_BYTES": str(CAP),
                                                                 "JOBQ_KILL_GRACE_SECONDS": "1"})
        daemon.start()
        client = Client(daemon.socket, timeout=600)
        pidfile = os.path.join(work.path, "daemon.pid")
        doomed = os.path.join(work.path, "doomed")
        os.mkdir(doomed)
        gone = os.path.join(work.path, "gone")
        os.mkdir(gone)
        specs = {
            "forks a daemon (setsid) and exits": {"shell": (
                f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' > /dev/null 2>&1 < /dev/null & "
                f"while [ ! -s {pidfile} ]; do sleep 0.01; done; echo forked")},
            "leaves a background child and exits": {"shell": "sleep 300 & echo left"},
            "ignores SIGTERM past its timeout": {"shell": "trap '' TERM; echo stubborn; sleep 300 & wait; sleep 300",
                                                 "timeout_seconds": 0.5},
            "writes 1 GiB to stdout": {"argv": ["head", "-c", "1G", "/dev/zero"]},
            "closes stdout early and goes on": {"shell": "echo before; exec >&-; echo err-after >&2; sleep 0.2; exit 3"},
            "loses its working directory while it runs": {"shell": f"rmdir {doomed}; pwd; ls . ; echo still-here",
                                                          "cwd": doomed},
        }
        ids = {}
        for what, spec in specs.items():
            status, answer = client.request("POST", "/v1/jobs", spec)
            results.check(f"submit: {what}", status == 201, f"{status} {answer}")
            ids[what] = answer["jobs"][0]["id"]
        os.rmdir(gone)
        status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "cwd": gone})
        ids["starts in a directory that is gone"] = answer["jobs"][0]["id"]

        jobs = wait_jobs(client, list(ids.values()), timeout=300)
        state_dir = daemon.state_dir
        for what, job_id in ids.items():
            job = jobs[job_id]
            results.check(f"{what}: ends recorded", job["state"] in ("succeeded", "failed"),
                          f"{job['state']} exit={job.get('exit_code')} signal={job.get('signal')} error={job.get('error')}")
            left = processes_of(state_dir, job_id)
            results.check(f"{what}: no process of it is left", not left, f"pids {left}")

        def log(what, stream="out"):
            status, text = client.request("GET", f"/v1/jobs/{ids[what]}/logs?stream={stream}")
            return text if status == 200 else f"<{status}>"

        results.check("the forked daemon's job succeeded", jobs[ids["forks a daemon (setsid) and exits"]]["state"] == "succeeded")
        with open(pidfile) as f:
            forked = int(f.read())
        results.check("the forked daemon itself is gone", not os.path.exists(f"/proc/{forked}") or
                      open(f"/proc/{forked}/stat").read().rsplit(")", 1)[1].split()[0] == "Z")
        stubborn = jobs[ids["ignores SIGTERM past its timeout"]]
        results.check("the SIGTERM-ignoring job failed, killed by SIGKILL after the grace",
                      stubborn["state"] == "failed" and stubborn.get("signal") == 9, f"{stubborn}")
        loud = jobs[ids["writes 1 GiB to stdout"]]
        out = loud.get("stdout_path")
        size = os.path.getsize(out)
        results.check("1 GiB of output: the job succeeded", loud["state"] == "succeeded", loud["state"])
        results.check("1 GiB of output: the file holds the cap and a note", CAP <= size <= CAP + 200, f"{size} bytes")
        results.check("1 GiB of output: the note counts the bytes dropped",
                      f"{(1 << 30) - CAP} more bytes dropped" in log("writes 1 GiB to stdout")[-200:])
        closed = jobs[ids["closes stdout early and goes on"]]
        results.check("closing stdout early: its exit code is recorded", closed.get("exit_code") == 3, f"{closed}")
        results.check("closing stdout early: what it wrote before and after is kept",
                      log("closes stdout early and goes on") == "before\n"
                      and log("closes stdout early and goes on", "err") == "err-after\n")
        lost = jobs[ids["loses its working directory while it runs"]]
        results.check("losing its directory: it ran on and its output is kept",
                      "still-here" in log("loses its working directory while it runs"), f"{lost}")
        never = jobs[ids["starts in a directory that is gone"]]
        results.check("a directory gone before the start: failed, and the error names it",
                      never["state"] == "failed" and gone in (never.get("error") or ""), f"{never}")
        client.close()
        results.check("the daemon stops cleanly", daemon.stop() == 0)


if __name__ == "__main__":
    run("misbehaving-jobs", main)
