#!/usr/bin/env python3
"""Jobs run as their submitters (needs root: it creates two accounts and a group, and removes
them at the end). With `run_as = submitter`:

- each user's job runs with that user's uid, primary and supplementary groups, HOME, USER,
  LOGNAME and SHELL from the password database, and no_new_privs;
- a setuid-root program in a job does not give it root (no_new_privs);
- root's jobs are refused (403 forbidden, `jobq` exit 4) unless allow_root_jobs = true;
- a job whose submitter's uid is no account of the machine fails, saying so;
- each user sees, cancels, waits for, retries and reads the output and runs of their own jobs
  only (another's is not_found, and stays as it was), and root lists anyone's with
  `jobq list --user`;
- a submit whose body names another submitter still has the socket's peer as its submitter;
- output files are private: another user cannot read them;
- a working directory the job's user cannot enter fails the job, naming the directory;
- fair share: with one worker, bob's one job starts before the second of alice's 1,000;
- with allow_submit, a user it does not name is refused (403, `jobq` exit 4) and one it
  names is not; with deny_submit, the reverse.

    scripts/reliability/run_as.py
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, bin_dir_cached, jobq, wait_jobs  # noqa: E402


def jobq_path():
    return os.path.join(bin_dir_cached(), "jobq")

GROUP = "jobqrel-runas"
EXTRA = "jobqrel-extra"
ALICE = "jobqrel-alice"
BOB = "jobqrel-bob"
UNKNOWN_UID = 54321


def account_cleanup():
    for user in (ALICE, BOB):
        subprocess.run(["userdel", user], capture_output=True)
    for group in (GROUP, EXTRA):
        subprocess.run(["groupdel", group], capture_output=True)


def ids(name):
    out = subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True).stdout.strip()
    groups = subprocess.run(["id", "-G", name], capture_output=True, text=True, check=True).stdout.split()
    return int(out), sorted(int(g) for g in groups)


@contextlib.contextmanager
def deadline(seconds):
    """Fails the block (an exception, which the run reports) when it takes longer than `seconds`."""
    def expired(_signal, _frame):
        raise TimeoutError(f"no progress within {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def as_user_request(user, socket_path, method, target, body=None):
    """One API request from a process running as `user` (the socket's peer): (status, body text)."""
    script = ("import http.client, json, socket, sys\n"
              "class C(http.client.HTTPConnection):\n"
              "    def connect(self):\n"
              "        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])\n"
              "c = C('jobqd'); body = sys.argv[4] or None\n"
              "c.request(sys.argv[2], sys.argv[3], body, {'Content-Type': 'application/json'} if body else {})\n"
              "r = c.getresponse(); print(r.status); print(r.read().decode())\n")
    out = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", sys.executable, "-c", script,
                          socket_path, method, target, json.dumps(body) if body is not None else ""],
                         capture_output=True, text=True)
    status, _, text = out.stdout.partition("\n")
    return (int(status) if status.isdigit() else 0), text.strip() or out.stderr.strip()


def main(results):
    if os.geteuid() != 0:
        raise SystemExit("run_as.py creates accounts: run it as root")
    account_cleanup()  # a previous run that was killed
    subprocess.run(["groupadd", "--system", GROUP], check=True)
    subprocess.run(["groupadd", "--system", EXTRA], check=True)
    for user, home in ((ALICE, "/home/jobqrel-alice"), (BOB, "/srv/jobqrel-bob")):
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh",
                        "-G", GROUP + ("," + EXTRA if user == ALICE else ""), user], check=True)
    with Workdir("run-as") as work:
        work.cleanups.append(account_cleanup)
        daemon = work.daemon(env={"JOBQ_SOCKET_GROUP": GROUP, "JOBQ_RUN_AS": "submitter"})
        daemon.start()
        root = Client(daemon.socket)
        probe = ("printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$(id -u)\" \"$(id -g)\" \"$(id -G)\" \"$HOME\" \"$USER\" \"$LOGNAME\" \"$SHELL\";"
                 " grep NoNewPrivs /proc/self/status")
        submitted = {}
        for user in (ALICE, BOB):
            out = jobq(daemon.socket, "submit", "--cwd", "/", "--shell", "--", probe, user=user)
            results.check(f"{user} can submit", out.returncode == 0, f"exit {out.returncode}: {out.stderr.strip()}")
            submitted[user] = int(out.stdout.strip() or 0)
        jobs = wait_jobs(root, list(submitted.values()))
        for user, home in ((ALICE, "/home/jobqrel-alice"), (BOB, "/srv/jobqrel-bob")):
            uid, groups = ids(user)
            job = jobs[submitted[user]]
            results.check(f"{user}'s job succeeded", job["state"] == "succeeded", f"{job['state']}: {job.get('error')}")
            status, text = root.request("GET", f"/v1/jobs/{submitted[user]}/logs?stream=out")
            lines = text.splitlines() if isinstance(text, str) else []
            fields = lines[0].split("|") if lines else []
            results.check(f"{user}'s job ran with their uid", fields[:1] == [str(uid)], repr(text))
            primary = subprocess.run(["id", "-g", user], capture_output=True, text=True).stdout.strip()
            results.check("... their primary group", fields[1:2] == [primary], repr(text))
            results.check("... and all their groups", len(fields) > 2 and sorted(int(g) for g in fields[2].split()) == groups,
                          f"{fields[2:3]} vs {groups}")
            results.check("... HOME, USER, LOGNAME and SHELL from the password database",
                          fields[3:7] == [home, user, user, "/bin/sh"], repr(fields[3:7]))
            results.check("... and no_new_privs", len(lines) > 1 and lines[1].split() == ["NoNewPrivs:", "1"], repr(lines[1:]))

        # Each sees their own jobs only; root sees every one.
        alices, bobs = submitted[ALICE], submitted[BOB]
        out = jobq(daemon.socket, "show", str(bobs), user=ALICE)
        results.check("alice cannot see bob's job: not_found, as for a job that does not exist",
                      out.returncode == 4 and "not_found" in out.stderr, f"exit {out.returncode}: {out.stderr.strip()}")
        out = jobq(daemon.socket, "cancel", str(bobs), user=ALICE)
        results.check("... nor cancel it (not_found)", out.returncode == 4 and "not_found" in out.stderr,
                      f"exit {out.returncode}: {out.stderr.strip()}")
        out = jobq(daemon.socket, "logs", str(bobs), user=ALICE)
        results.check("... nor read its output (not_found)", out.returncode == 4 and "not_found" in out.stderr,
                      f"exit {out.returncode}: {out.stderr.strip()}")
        out = jobq(daemon.socket, "list", "--json", user=ALICE)
        ids_seen = sorted(job["id"] for job in (json.loads(out.stdout) if out.returncode == 0 else []))
        results.check("alice's list holds her jobs only", ids_seen == [alices], f"{ids_seen} (exit {out.returncode}: {out.stderr.strip()})")
        out = jobq(daemon.socket, "list", "--json", "--user", BOB)
        ids_seen = sorted(job["id"] for job in (json.loads(out.stdout) if out.returncode == 0 else []))
        results.check("root lists bob's with --user", ids_seen == [bobs], f"{ids_seen} (exit {out.returncode}: {out.stderr.strip()})")

        for command in ("wait", "retry"):
            out = jobq(daemon.socket, command, str(bobs), user=ALICE)
            results.check(f"... nor {command} it (not_found)", out.returncode == 4 and "not_found" in out.stderr,
                          f"exit {out.returncode}: {out.stderr.strip()}")
        status, answer = as_user_request(ALICE, daemon.socket, "GET", f"/v1/jobs/{bobs}/runs")
        results.check("... nor read its runs through the API (404 not_found)", status == 404 and "not_found" in answer,
                      f"{status} {answer}")
        bob_job = root.request("GET", f"/v1/jobs/{bobs}")[1]
        results.check("... and bob's job is as it was", bob_job["state"] == "succeeded" and bob_job["attempts"] == 1,
                      f"{bob_job['state']}, {bob_job['attempts']} attempts")
        # A submit that names another submitter: the socket's peer is the submitter, whatever the body says.
        status, answer = as_user_request(ALICE, daemon.socket, "POST", "/v1/jobs",
                                         {"argv": ["id", "-u"], "cwd": "/", "submitter_uid": ids(BOB)[0]})
        forged = json.loads(answer)["jobs"][0]["id"] if status == 201 else None
        job = wait_jobs(root, [forged])[forged] if forged else {}
        log = root.request("GET", f"/v1/jobs/{forged}/logs?stream=out")[1] if forged else ""
        results.check("a body naming bob as submitter still makes alice the submitter, and the job runs as alice",
                      job.get("spec", {}).get("submitter_uid") == ids(ALICE)[0] and log.strip() == str(ids(ALICE)[0]),
                      f"{status} {answer} {job.get('spec')} {log!r}")
        # A working directory the job's user may not enter: the job fails saying so (jobqd, as
        # root, could enter it).
        private = os.path.join(work.path, "private")
        os.mkdir(private, 0o700)
        out = jobq(daemon.socket, "submit", "--cwd", private, "--", "true", user=ALICE)
        locked_out = int(out.stdout.strip() or 0)
        job = wait_jobs(root, [locked_out])[locked_out] if locked_out else {}
        results.check("a job whose working directory its user cannot enter fails, naming the directory",
                      job.get("state") == "failed"
                      and f"cannot change to the working directory '{private}': Permission denied" in (job.get("error") or ""),
                      f"exit {out.returncode}: {job.get('state')}: {job.get('error')}")
        # Output files: private to the daemon; bob's job cannot read alice's.
        peek = subprocess.run(["setpriv", f"--reuid={BOB}", f"--regid={BOB}", "--init-groups", "--",
                               "cat", os.path.join(daemon.state_dir, "logs", f"{alices}.out")], capture_output=True, text=True)
        results.check("bob cannot read alice's output file", peek.returncode != 0 and "Permission denied" in peek.stderr,
                      f"exit {peek.returncode}: {peek.stdout!r} {peek.stderr.strip()}")

        # Fair share: alice's 1,000 jobs queued behind her running one, then bob's one; with one
        # worker, bob's starts in the next free slot. Her first job says it runs through a FIFO
        # and ends when the test writes to another.
        ready, gate = os.path.join(work.path, "ready"), os.path.join(work.path, "gate")
        for fifo in (ready, gate):
            os.mkfifo(fifo)
            os.chmod(fifo, 0o666)
        out = jobq(daemon.socket, "workers", "fair", "1")
        results.check("root sets queue fair to one worker", out.returncode == 0, f"exit {out.returncode}: {out.stderr.strip()}")
        first = int(jobq(daemon.socket, "submit", "-q", "fair", "--cwd", "/", "--",
                         "sh", "-c", f"echo started > {ready}; cat {gate} >/dev/null", user=ALICE).stdout.strip() or 0)
        with deadline(60):
            with open(ready) as signal_file:
                signal_file.read()
        backlog = [int(line) for line in jobq(daemon.socket, "submit", "-q", "fair", "--cwd", "/", "--stdin", user=ALICE,
                                               stdin="date +%s%N\n" * 1000).stdout.split()]
        lone = int(jobq(daemon.socket, "submit", "-q", "fair", "--cwd", "/", "--", "date", "+%s%N", user=BOB).stdout.strip() or 0)
        with deadline(60):
            with open(gate, "w") as gate_file:
                gate_file.write("go\n")
        jobs = wait_jobs(root, [first, lone] + backlog, timeout=300)
        started = {job_id: root.request("GET", f"/v1/jobs/{job_id}/logs?stream=out")[1].strip() for job_id in (lone, backlog[0])}
        results.check("alice queued 1,000 jobs behind her running one, then bob one: all succeeded",
                      len(backlog) == 1000 and all(job["state"] == "succeeded" for job in jobs.values()),
                      f"{len(backlog)} queued; states {sorted(set(job['state'] for job in jobs.values()))}")
        results.check("bob's job started in the next free slot, before alice's second (round-robin)",
                      started[lone].isdigit() and started[backlog[0]].isdigit() and int(started[lone]) < int(started[backlog[0]]),
                      f"bob's at {started[lone]}, alice's second at {started[backlog[0]]}")

        # A setuid-root copy of id: under no_new_privs the exec does not raise the job's ids.
        setuid_id = os.path.join(work.path, "setuid-id")
        shutil.copy("/usr/bin/id", setuid_id)
        os.chmod(setuid_id, 0o4755)
        control = subprocess.run(["setpriv", f"--reuid={ALICE}", f"--regid={ALICE}", "--init-groups", "--", setuid_id, "-u"],
                                 capture_output=True, text=True)
        results.check("(control: outside jobq, the setuid copy does give root here)", control.stdout.strip() == "0",
                      f"{control.stdout.strip()} {control.stderr.strip()}")
        out = jobq(daemon.socket, "submit", "--cwd", "/", "--", setuid_id, "-u", user=ALICE)
        escalate = int(out.stdout.strip() or 0)
        job = wait_jobs(root, [escalate])[escalate]
        status, text = root.request("GET", f"/v1/jobs/{escalate}/logs?stream=out")
        results.check("a setuid-root program in a job does not run as root", job["state"] == "succeeded"
                      and text.strip() == str(ids(ALICE)[0]), f"{job['state']}: {text!r}")

        out = jobq(daemon.socket, "submit", "--", "true")
        results.check("root's job is refused: jobq exits 4 saying forbidden",
                      out.returncode == 4 and "forbidden" in out.stderr and "allow_root_jobs" in out.stderr,
                      f"exit {out.returncode}: {out.stderr.strip()}")
        status, answer = root.request("POST", "/v1/jobs", {"argv": ["true"]})
        results.check("and through the API: 403", status == 403, f"{status} {answer}")

        # A uid without an account (a user removed since, a container's): in the socket's group.
        group_id = subprocess.run(["getent", "group", GROUP], capture_output=True, text=True).stdout.split(":")[2]
        out = subprocess.run(["setpriv", f"--reuid={UNKNOWN_UID}", f"--regid={group_id}", "--clear-groups", "--",
                              os.path.join(os.path.dirname(jobq_path()), "jobq"), "--socket", daemon.socket,
                              "submit", "--cwd", "/", "--", "true"], capture_output=True, text=True, timeout=60)
        results.check("a uid with no account can submit (it reaches the socket)", out.returncode == 0,
                      f"exit {out.returncode}: {out.stderr.strip()}")
        ghost = int(out.stdout.strip() or 0)
        job = wait_jobs(root, [ghost])[ghost] if ghost else {"state": "none"}
        results.check("its job fails, saying its submitter is not a user of this machine",
                      job["state"] == "failed" and f"uid {UNKNOWN_UID}, is not a user of this machine" in (job.get("error") or ""),
                      f"{job['state']}: {job.get('error')}")
        root.close()
        daemon.stop()

        allowed = work.daemon(env={"JOBQ_SOCKET_GROUP": GROUP, "JOBQ_RUN_AS": "submitter", "JOBQ_ALLOW_ROOT_JOBS": "true"},
                              state_dir=os.path.join(work.path, "state-allowed"), socket_path=os.path.join(work.path, "allowed.sock"),
                              log_name="allowed.log")
        allowed.start()
        out = jobq(allowed.socket, "submit", "--wait", "--", "sh", "-c", "test \"$(id -u)\" = 0")
        results.check("with allow_root_jobs = true, root's job runs as root", out.returncode == 0,
                      f"exit {out.returncode}: {out.stderr.strip()}")
        allowed.stop()

        for key, value, refused, accepted in (("JOBQ_ALLOW_SUBMIT", ALICE, BOB, ALICE), ("JOBQ_DENY_SUBMIT", ALICE, ALICE, BOB)):
            name = key.split("_")[1].lower()
            policy = work.daemon(env={"JOBQ_SOCKET_GROUP": GROUP, key: value},
                                 state_dir=os.path.join(work.path, f"state-{name}"), socket_path=os.path.join(work.path, f"{name}.sock"),
                                 log_name=f"{name}.log")
            policy.start()
            out = jobq(policy.socket, "submit", "--", "true", user=refused)
            results.check(f"with {name}_submit = {value}, {refused} is refused: jobq exits 4 saying why",
                          out.returncode == 4 and f"{name}_submit" in out.stderr, f"exit {out.returncode}: {out.stderr.strip()}")
            out = jobq(policy.socket, "submit", "--", "true", user=accepted)
            results.check(f"... and {accepted} may submit", out.returncode == 0, f"exit {out.returncode}: {out.stderr.strip()}")
            policy.stop()


if __name__ == "__main__":
    run("run-as", main)
