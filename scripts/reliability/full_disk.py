#!/usr/bin/env python3
"""Full disk: jobqd's state directory on a small tmpfs (needs root, for the mount).

- submits past the space get 507 storage_full with a message that says the disk is full, and
  store nothing; every job acknowledged before is there;
- the daemon keeps serving reads (healthz, status, a job, the list) while the disk is full;
- once space is freed (a ballast file removed) submits work again, without a restart;
- a job whose output fills the disk ends in a recorded state, and the store goes on working;
- after kill -9 and a restart every acknowledged job is there and integrity_check says ok.

    scripts/reliability/full_disk.py [--size-mb 16]
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, all_jobs, integrity, wait_jobs  # noqa: E402


def main(results):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=32, help="the tmpfs's size")
    options = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("full_disk.py mounts a tmpfs: run it as root")

    with Workdir("disk") as work:
        state = os.path.join(work.path, "state")
        os.mkdir(state)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={options.size_mb}m,mode=0700", "tmpfs", state], check=True)
        work.cleanups.append(lambda: subprocess.run(["umount", "-l", state], check=False))
        ballast = os.path.join(state, "ballast")
        with open(ballast, "wb") as f:
            f.write(b"\0" * (8 << 20))  # freed later: the space the daemon gets back (more than
            # the 4 MiB of WAL a checkpoint moves into the database file once there is room)

        daemon = work.daemon(state_dir=state, args=["--workers", "1"])
        daemon.start()
        client = Client(daemon.socket)
        status, _ = client.request("POST", "/v1/queues/fill/pause")
        results.check("pause the queue the filler jobs go to", status == 200, f"{status}")

        padding = "x" * 4000
        acknowledged, refusal, batches = [], None, 0
        while refusal is None and batches < 10000:
            batches += 1
            body = {"jobs": [{"argv": ["true", f"{batches}-{i}", padding], "queue": "fill"} for i in range(50)]}
            status, answer = client.request("POST", "/v1/jobs", body)
            if status == 201:
                acknowledged += [item["id"] for item in answer["jobs"]]
            else:
                refusal = (status, answer)
        # What a refused batch of 50 leaves may still hold a small job or a few: those fill it
        # to the last page, so that "nothing is free" below is true, whatever the pages' layout.
        for _ in range(5000):
            status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "fill"})
            if status != 201:
                break
            acknowledged += [item["id"] for item in answer["jobs"]]
        print(f"  {len(acknowledged)} jobs acknowledged before the disk filled", flush=True)
        status, answer = refusal
        results.check("a submit past the space answers 507", status == 507, f"{status} {answer}")
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        # storage_full: the 507 code of a full disk (storage_error is the one of other failures).
        results.check("with code storage_full and a message saying the disk is full",
                      error.get("code") == "storage_full" and "full" in error.get("message", ""), f"{error}")

        status, _ = client.request("GET", "/healthz")
        results.check("healthz answers while the disk is full", status == 200, f"{status}")
        status, body = client.request("GET", "/v1/status")
        results.check("status answers while the disk is full", status == 200, f"{status}")
        status, body = client.request("GET", f"/v1/jobs/{acknowledged[-1]}")
        results.check("the last acknowledged job can be read", status == 200 and body["id"] == acknowledged[-1], f"{status}")
        listed = {job["id"] for job in all_jobs(client)}
        results.check("the list holds every acknowledged job and none of the refused batch",
                      listed == set(acknowledged), f"{len(listed)} listed, {len(acknowledged)} acknowledged")
        status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "fill"})
        results.check("a small submit is refused too while nothing is free", status == 507, f"{status}")

        os.unlink(ballast)
        status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "fill"})
        results.check("once space is freed, a submit is stored again without a restart", status == 201, f"{status} {answer}")
        if status == 201:
            acknowledged.append(answer["jobs"][0]["id"])

        # A job whose output is larger than the disk: it ends, recorded, and the store goes on.
        status, answer = client.request("POST", "/v1/jobs", {
            "argv": ["sh", "-c", f"head -c {options.size_mb * 2}M /dev/zero; echo done >&2"], "queue": "loud"})
        results.check("submit a job that writes twice the disk's size", status == 201, f"{status} {answer}")
        loud = answer["jobs"][0]["id"]
        acknowledged.append(loud)
        job = wait_jobs(client, [loud], timeout=300)[loud]
        results.check("it ends in a recorded state", job["state"] in ("succeeded", "failed"), f"{job['state']}")
        out = os.path.join(state, "logs", f"{loud}.out")
        size = os.path.getsize(out) if os.path.exists(out) else 0
        print(f"  its output file kept {size} bytes; the job ended {job['state']}", flush=True)
        with open(out, "rb") as f:
            f.seek(max(0, size - 200))
            tail = f.read().decode(errors="replace")
        results.check("its output stopped at the disk's reserve, and the file says so",
                      "[jobq: output truncated" in tail and "free on the disk" in tail, repr(tail[-120:]))
        free = os.statvfs(state).f_bavail * os.statvfs(state).f_frsize
        results.check("the reserve was left free for the store", free >= (options.size_mb << 20) // 20, f"{free} bytes free")
        status, answer = client.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "after"})
        results.check("the store takes a submit after the output filled the disk", status == 201, f"{status} {answer}")
        if status == 201:
            acknowledged.append(answer["jobs"][0]["id"])
        client.close()

        daemon.kill9()
        daemon.start()
        client = Client(daemon.socket)
        listed = {job["id"] for job in all_jobs(client)}
        client.close()
        missing = set(acknowledged) - listed
        results.check("after kill -9 and a restart every acknowledged job is there", not missing,
                      f"missing {sorted(missing)[:10]}")
        results.check("the daemon stops cleanly", daemon.stop() == 0)
        check = integrity(state)
        results.check("PRAGMA integrity_check", check == ["ok"], f"{check[:3]}")


if __name__ == "__main__":
    run("full-disk", main)
