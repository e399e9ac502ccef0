#!/usr/bin/env python3
"""Other users (needs root: it creates two accounts and a group, and removes them at the end).

- a user outside the socket's group cannot connect: `jobq` exits 3 and says permission denied;
- a user in the group can submit, and cancel their own job, but cancel and retry of another
  user's job get 403 forbidden (`jobq` exit 4), through `jobq` and through curl;
- a job's argv reaches the program unchanged: `;`, `$()`, backquotes, quotes, globs and
  newlines are never interpreted by a shell.

    scripts/reliability/other_users.py
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import run, Client, Workdir, jobq, wait_jobs  # noqa: E402

GROUP = "jobqrel-sock"
MEMBER = "jobqrel-member"
OUTSIDER = "jobqrel-outsider"


def account_cleanup():
    for user in (MEMBER, OUTSIDER):
        subprocess.run(["userdel", user], capture_output=True)
    subprocess.run(["groupdel", GROUP], capture_output=True)


def curl(socket_path, user, method, target):
    out = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--",
                          "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
                          "--unix-socket", socket_path, f"http://localhost{target}"],
                         capture_output=True, text=True)
    return out.stdout.strip()


def main(results):
    if os.geteuid() != 0:
        raise SystemExit("other_users.py creates accounts: run it as root")
    account_cleanup()  # a previous run that was killed
    subprocess.run(["groupadd", "--system", GROUP], check=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", GROUP, MEMBER], check=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OUTSIDER], check=True)
    with Workdir("users") as work:
        work.cleanups.append(account_cleanup)
        daemon = work.daemon(env={"JOBQ_SOCKET_GROUP": GROUP})
        daemon.start()
        info = os.stat(daemon.socket)
        results.check("the socket is mode 0660, group " + GROUP,
                      info.st_mode & 0o777 == 0o660 and info.st_gid == int(subprocess.run(
                          ["getent", "group", GROUP], capture_output=True, text=True).stdout.split(":")[2]),
                      f"{oct(info.st_mode & 0o777)} gid {info.st_gid}")

        out = jobq(daemon.socket, "submit", "--", "true", user=OUTSIDER)
        results.check("a user outside the group cannot connect: jobq exits 3", out.returncode == 3,
                      f"exit {out.returncode}: {out.stderr.strip()}")
        results.check("and says permission denied, naming the socket",
                      "ermission denied" in out.stderr and daemon.socket in out.stderr, out.stderr.strip())
        results.check("curl as the outsider cannot connect either", curl(daemon.socket, OUTSIDER, "GET", "/healthz") == "000")

        root = Client(daemon.socket)
        status, _ = root.request("POST", "/v1/queues/held/pause")
        status, answer = root.request("POST", "/v1/jobs", {"argv": ["true"], "queue": "held"})
        roots_job = answer["jobs"][0]["id"]
        status, answer = root.request("POST", "/v1/jobs", {"argv": ["false"]})
        roots_failed = answer["jobs"][0]["id"]
        wait_jobs(root, [roots_failed])

        out = jobq(daemon.socket, "submit", "--queue", "held", "--", "true", user=MEMBER)
        results.check("a member of the group can submit", out.returncode == 0 and out.stdout.strip().isdigit(),
                      f"exit {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}")
        own = out.stdout.strip()
        status, job = root.request("GET", f"/v1/jobs/{own}")
        member_uid = int(subprocess.run(["id", "-u", MEMBER], capture_output=True, text=True).stdout)
        results.check("the job records the member's uid as its submitter", job["spec"].get("submitter_uid") == member_uid,
                      f"{job['spec'].get('submitter_uid')} vs {member_uid}")

        for verb, target in (("cancel", roots_job), ("retry", roots_failed)):
            out = jobq(daemon.socket, verb, str(target), user=MEMBER)
            results.check(f"the member cannot {verb} root's job: jobq exits 4 saying forbidden",
                          out.returncode == 4 and "forbidden" in (out.stderr + out.stdout).lower(),
                          f"exit {out.returncode}: {out.stderr.strip()}")
            code = curl(daemon.socket, MEMBER, "POST", f"/v1/jobs/{target}/{verb}")
            results.check(f"curl as the member: {verb} of root's job answers 403", code == "403", code)
        status, job = root.request("GET", f"/v1/jobs/{roots_job}")
        results.check("root's job is untouched", job["state"] == "queued", job["state"])
        out = jobq(daemon.socket, "cancel", own, user=MEMBER)
        results.check("the member can cancel their own job", out.returncode == 0, f"exit {out.returncode}: {out.stderr.strip()}")
        status, job = root.request("POST", f"/v1/jobs/{own}/retry")
        results.check("root can retry the member's job", status == 200, f"{status}")

        tricky = ["a;b", "$(id)", "`id`", "'single'", '"double"', "*", "line1\nline2", "x && echo y", "$HOME", "\\n", ""]
        out = jobq(daemon.socket, "submit", "--", "printf", "[%s]\\n", *tricky, user=MEMBER)
        results.check("submit an argv full of shell syntax", out.returncode == 0, out.stderr.strip())
        tricky_id = int(out.stdout.strip())
        job = wait_jobs(root, [tricky_id])[tricky_id]
        results.check("it ran and succeeded", job["state"] == "succeeded", job["state"])
        status, text = root.request("GET", f"/v1/jobs/{tricky_id}/logs?stream=out")
        expected = "".join(f"[{arg}]\n" for arg in tricky)
        results.check("every argument reached printf unchanged (no shell)", text == expected, repr(text))
        root.close()


if __name__ == "__main__":
    run("other-users", main)
