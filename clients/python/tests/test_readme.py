"""The README's producer and three consumers, run as written (each its own process) against
the real jobqd: every item is done, and the producer's join says so."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_readme_examples_run_as_written(daemon, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", open(README).read(), re.S)
    assert len(blocks) == 4, "a producer and three consumers"
    scripts = []
    for number, block in enumerate(blocks):
        path = tmp_path / f"example{number}.py"
        path.write_text(block)
        scripts.append(str(path))
    env = dict(os.environ, JOBQ_SOCKET=daemon.socket)
    consumers = [subprocess.Popen([sys.executable, script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for script in scripts[1:]]
    try:
        producer = subprocess.run([sys.executable, scripts[0]], env=env, capture_output=True, text=True, timeout=120)
        assert producer.returncode == 0, producer.stderr
        assert producer.stdout.strip() == "all sent"
    finally:
        for consumer in consumers:
            consumer.terminate()
        outputs = [consumer.communicate(timeout=30) for consumer in consumers]
    with httpx.Client(transport=httpx.HTTPTransport(uds=daemon.socket), base_url="http://jobqd") as client:
        jobs = client.get("/v1/jobs", params={"queue": "mail", "limit": 100}).json()["jobs"]
    assert len(jobs) == 10 and all(job["state"] == "succeeded" for job in jobs), [job["state"] for job in jobs]
    assert {job["consumer"] for job in jobs} <= {"sender-1", "sender-2", "sender-3"}
    printed = "".join(out for out, _ in outputs)
    assert "sending to user" in printed or any(job["consumer"] == "sender-2" for job in jobs), outputs
