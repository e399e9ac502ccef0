#!/usr/bin/env python3
"""Power cut: acknowledged jobs survive a cut that loses everything not yet on the disk.

How (needs root and a loop device; no dm-flakey here, the kernel has no device-mapper): the
state directory lives on an ext4 filesystem in an image file, attached with a loop device. Every
block ext4 sends to the loop device lands in the image file; what ext4 still holds in its own
page cache does not. Submitters keep submitting; at a random moment the daemon is killed with
SIGKILL and the image file is copied at once, without syncing the filesystem: the copy is the
disk as a power cut would leave it (any subset of the unsynced writes, all of the fsynced ones).
The copy is then mounted (ext4 replays its journal), SQLite opens it (and replays its WAL), and
every job acknowledged before the kill must be there, in a database that passes integrity_check.
The daemon restarts on the original and the next cycle begins.

A control run with --durability normal (no fsync per commit) shows the method has teeth: there
the copies lose acknowledged jobs, as SQLite documents for synchronous=NORMAL.

    scripts/reliability/power_cut.py [--cycles 20] [--control-cycles 3]
"""

import argparse
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, sqlite  # noqa: E402


class Submitter(threading.Thread):
    def __init__(self, socket_path, up, stop, number):
        super().__init__(daemon=True)
        self.socket_path, self.up, self.stop, self.number = socket_path, up, stop, number
        self.acknowledged = []  # (monotonic time of the answer, id)
        self.lock = threading.Lock()

    def run(self):
        client = Client(self.socket_path, timeout=30)
        n = 0
        while not self.stop.is_set():
            self.up.wait()
            n += 1
            batch = 1 if n % 4 else 10
            spec = {"argv": ["true", f"{self.number}-{n}"], "queue": "cut"}
            body = spec if batch == 1 else {"jobs": [spec] * batch}
            try:
                status, answer = client.request("POST", "/v1/jobs", body)
            except OSError:
                time.sleep(0.005)
                continue
            if status == 201:
                now = time.monotonic()
                with self.lock:
                    self.acknowledged += [(now, item["id"]) for item in answer["jobs"]]
        client.close()

    def acknowledged_before(self, moment):
        with self.lock:
            return {i for t, i in self.acknowledged if t < moment}


def mount_copy(image, target):
    """Attaches and mounts a copy of the image (the journal is replayed); returns the loop device."""
    device = subprocess.run(["losetup", "-f", "--show", image], check=True, capture_output=True, text=True).stdout.strip()
    os.makedirs(target, exist_ok=True)
    subprocess.run(["mount", "-t", "ext4", device, target], check=True)
    return device


def unmount(target, device):
    subprocess.run(["umount", target], check=False)
    subprocess.run(["losetup", "-d", device], check=False)


def cycles(results, work, durability, count, rng, label):
    """Runs `count` cut cycles; returns (acknowledged in all, lost in all, integrity failures)."""
    image = os.path.join(work.path, f"{label}.img")
    mnt = os.path.join(work.path, f"{label}-mnt")
    os.mkdir(mnt)
    with open(image, "wb") as f:
        f.truncate(128 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", image], check=True)
    device = subprocess.run(["losetup", "-f", "--show", image], check=True, capture_output=True, text=True).stdout.strip()
    work.cleanups.append(lambda: unmount(mnt, device))
    subprocess.run(["mount", "-t", "ext4", device, mnt], check=True)
    state = os.path.join(mnt, "state")
    daemon = work.daemon(state_dir=state, socket_path=os.path.join(work.path, f"{label}.sock"),
                         args=["--durability", durability, "--workers", "1"], log_name=f"{label}.log")
    daemon.start()
    client = Client(daemon.socket)
    client.request("POST", "/v1/queues/cut/pause")  # the jobs stay queued: only submits write
    client.close()

    up, stop = threading.Event(), threading.Event()
    up.set()
    submitters = [Submitter(daemon.socket, up, stop, i) for i in range(4)]
    for s in submitters:
        s.start()
    total_ack = total_lost = bad = 0
    copy = os.path.join(work.path, f"{label}-copy.img")
    copy_mnt = os.path.join(work.path, f"{label}-copy")
    for cycle in range(count):
        time.sleep(rng.uniform(0.3, 1.5))
        up.clear()
        daemon.kill9()
        cut = time.monotonic()
        # the disk at the cut: no sync first
        subprocess.run(["cp", "--sparse=always", image, copy], check=True)
        acknowledged = set()
        for s in submitters:
            acknowledged |= s.acknowledged_before(cut)
        copy_device = mount_copy(copy, copy_mnt)
        try:
            db = os.path.join(copy_mnt, "state", "jobs.db")
            found = {int(x) for x in sqlite(db, "SELECT id FROM jobs;")}
            check = sqlite(db, "PRAGMA integrity_check;")
        finally:
            unmount(copy_mnt, copy_device)
            os.unlink(copy)
        lost = acknowledged - found
        total_ack, total_lost = len(acknowledged), total_lost + len(lost)
        bad += check != ["ok"]
        print(f"  {label} cut {cycle + 1}: {len(acknowledged)} acknowledged, {len(found)} in the copy, "
              f"{len(lost)} lost, integrity {check[0] if check else '?'}", flush=True)
        daemon.start()
        up.set()
    stop.set()
    up.set()
    for s in submitters:
        s.join(60)
    daemon.stop()
    return total_ack, total_lost, bad


def main(results):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=20, help="cuts with durability full")
    parser.add_argument("--control-cycles", type=int, default=3, help="cuts with durability normal (0: none)")
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("power_cut.py attaches loop devices: run it as root")
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"power cut: {options.cycles} cuts with durability full, {options.control_cycles} with normal; seed {seed}", flush=True)
    with Workdir("powercut", base="/var/tmp") as work:
        acknowledged, lost, bad = cycles(results, work, "full", options.cycles, rng, "full")
        results.check(f"durability full: no acknowledged job lost in {options.cycles} cuts", lost == 0,
                      f"{lost} lost")
        results.check("durability full: every copy passes integrity_check", bad == 0, f"{bad} failed")
        print(f"  durability full: {acknowledged} jobs acknowledged by the last cut, {lost} lost", flush=True)
        if options.control_cycles:
            acknowledged, lost, bad = cycles(results, work, "normal", options.control_cycles, rng, "normal")
            print(f"  control, durability normal: {lost} acknowledged jobs lost over {options.control_cycles} cuts "
                  "(expected: commits there are not synced)", flush=True)
            results.check("durability normal: every copy passes integrity_check (it may lose commits, never consistency)",
                          bad == 0, f"{bad} failed")


if __name__ == "__main__":
    run("power-cut", main)
