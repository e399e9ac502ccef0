"""Scenarios of one process per submit: the machine's bounds, the CLI submit rows, the CLI budget."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from tools import Jobqd, nq_wait_all, percentile, run_checked, spawn, tsp_wait_all, which


class ProcessScenarios:
    """The scenarios that start a process per submit, and what bounds them."""

    C_NOTHING = "int main(void) { return 0; }\n"
    # One POST /v1/jobs on a new connection, the bytes jobq's quick path sends (sorted keys, the
    # current directory, Connection: close); exit 0 on 201 Created, 1 otherwise.
    C_CLIENT = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char cwd[4096], body[8192], request[9216], answer[4096];
    if (!getcwd(cwd, sizeof cwd)) return 1;
    int body_length = snprintf(body, sizeof body,
        "{\"argv\":[\"true\"],\"cwd\":\"%s\",\"priority\":0,\"queue\":\"default\"}", cwd);
    int length = snprintf(request, sizeof request,
        "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\nConnection: close\r\n\r\n%s", body_length, body);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return 1;
    if (write(fd, request, length) != length) return 1;
    size_t got = 0;
    ssize_t n;
    while (got < sizeof answer - 1 && (n = read(fd, answer + got, sizeof answer - 1 - got)) > 0) got += n;
    answer[got] = 0;
    return strncmp(answer, "HTTP/1.1 201", 12) == 0 ? 0 : 1;
}
"""

    def machine(self):
        path = os.path.join(self.fresh("fsync"), "probe")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        block = b"\0" * 4096
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2:
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            count += 1
        fsync_rate = count / (time.perf_counter() - started)
        os.close(fd)
        true = which("true")
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2:
            os.waitpid(os.posix_spawn(true, [true], os.environ), 0)
            count += 1
        spawn_rate = count / (time.perf_counter() - started)
        self.results["machine"] = {"fdatasync_per_s": fsync_rate, "posix_spawn_per_s": spawn_rate}
        self.say(f"machine: {fsync_rate:,.0f} fdatasync/s, {spawn_rate:,.0f} posix_spawn+wait/s")

    def cli(self):
        jobs, rounds = self.options.cli_jobs, self.options.rounds
        work = self.fresh("cli")
        daemon = Jobqd(os.path.join(self.bin, "jobqd"), work)
        daemon.start()
        tsp_env = {**os.environ, "TS_SOCKET": os.path.join(work, "tsp.sock"),
                   "TS_MAXFINISHED": str(jobs + 10), "TS_SAVELIST": "", "TMPDIR": work}
        nq_env = {**os.environ, "NQDIR": os.path.join(work, "nq")}
        batch_input = os.path.join(work, "batch-input")
        with open(batch_input, "w") as f:
            f.write("true\n")
        atq_before = self.at_jobs()
        run_checked([which("tsp"), "-S", "2"], tsp_env)
        tools = {
            "jobq": ([os.path.join(self.bin, "jobq"), "submit", "--", "true"], {**os.environ, "JOBQ_SOCKET": daemon.socket}, None),
            "tsp": ([which("tsp"), "-n", "true"], tsp_env, None),
            "nq": ([which("nq"), "-q", "-c", "true"], nq_env, None),
            "batch": ([which("batch")], os.environ, batch_input),
        }
        drains = {"jobq": lambda: run_checked([tools["jobq"][0][0], "join"], tools["jobq"][1]),
                  "tsp": lambda: tsp_wait_all(tsp_env),
                  "nq": lambda: nq_wait_all(nq_env["NQDIR"], nq_env),
                  "batch": lambda: None}  # no atd runs: batch's jobs stay in its spool (removed below)
        latencies = {name: [] for name in tools}
        rates = {name: [] for name in tools}
        per_round = max(1, jobs // rounds)
        try:
            for round_index in range(rounds):
                order = list(tools) if round_index % 2 == 0 else list(reversed(tools))
                for name in order:
                    argv, env, stdin_path = tools[name]
                    started = time.perf_counter()
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        run_checked(argv, env, stdin_path)
                        latencies[name].append(time.perf_counter() - t0)
                    rates[name].append(per_round / (time.perf_counter() - started))
                    drains[name]()  # its jobs end before the next tool's round (not timed)
        finally:
            daemon.stop()
            subprocess.run([which("tsp"), "-K"], env=tsp_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            new = sorted(self.at_jobs() - atq_before)
            for start in range(0, len(new), 500):
                subprocess.run([which("atrm")] + new[start:start + 500], stderr=subprocess.DEVNULL)
        result = {}
        for name in tools:
            result[name] = {"submits_per_s": statistics.median(rates[name]),
                            "p50_ms": percentile(latencies[name], 50) * 1000,
                            "p99_ms": percentile(latencies[name], 99) * 1000}
        self.results["cli"] = {"jobs_per_tool": per_round * rounds, "rounds": rounds, **result}
        for name, figures in result.items():
            self.say(f"cli {name}: {figures['submits_per_s']:,.0f}/s p50 {figures['p50_ms']:.2f} ms "
                     f"p99 {figures['p99_ms']:.2f} ms")

    def budget(self):
        """One CLI submit, part by part: each row is `per_round` processes per round, the rows
        alternating (in an order reversed every other round), p50 and p99 of each process's
        time from posix_spawn to waitpid. The jobs a row leaves queued run, and tsp's end,
        before the next row (not timed)."""
        runs, rounds = max(2, self.options.cli_jobs // 2), self.options.rounds
        per_round = max(1, runs // rounds)
        work = self.fresh("budget")
        built = self.budget_programs(work)
        daemon = Jobqd(os.path.join(self.bin, "jobqd"), work)
        daemon.start()
        tsp_env = {**os.environ, "TS_SOCKET": os.path.join(work, "tsp.sock"),
                   "TS_MAXFINISHED": str(runs + 10), "TS_SAVELIST": "", "TMPDIR": work}
        run_checked([which("tsp"), "-S", "2"], tsp_env)
        jobq = os.path.join(self.bin, "jobq")
        jobq_env = {**os.environ, "JOBQ_SOCKET": daemon.socket}
        nowhere_env = {**os.environ, "JOBQ_SOCKET": os.path.join(work, "nothing-listens.sock")}
        client = [built["c client"], daemon.socket]
        # name: (argv, env, jobqd's queue during the row or None, exit status expected)
        rows = {
            "a static C program that does nothing": ([built["c nothing"]], os.environ, None, 0),
            "a static Swift program that does nothing": ([built["swift nothing"]], os.environ, None, 0),
            "`jobq submit -- true`, no daemon (its start, a failed connect)": (
                [jobq, "submit", "--", "true"], nowhere_env, None, 3),
            "a static C client, jobq's request, queue paused": (client, os.environ, "pause", 0),
            "`jobq submit -- true`, queue paused": ([jobq, "submit", "--", "true"], jobq_env, "pause", 0),
            "a static C client, jobq's request, queue running": (client, os.environ, "resume", 0),
            "`jobq submit -- true`, queue running": ([jobq, "submit", "--", "true"], jobq_env, "resume", 0),
            "`tsp -n true`, 2 slots, its jobs running": ([which("tsp"), "-n", "true"], tsp_env, None, 0),
        }
        latencies = {name: [] for name in rows}
        try:
            for round_index in range(rounds):
                order = list(rows) if round_index % 2 == 0 else list(reversed(rows))
                for name in order:
                    argv, env, queue, expected = rows[name]
                    if queue:
                        status, body = daemon.call("POST", f"/v1/queues/default/{queue}")
                        assert status == 200, body
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        _, status = os.waitpid(spawn(argv, env), 0)
                        latencies[name].append(time.perf_counter() - t0)
                        if os.waitstatus_to_exitcode(status) != expected:
                            raise RuntimeError(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
                    if queue == "pause":
                        status, body = daemon.call("POST", "/v1/queues/default/resume")
                        assert status == 200, body
                    if queue:
                        run_checked([jobq, "join"], jobq_env)
                    if argv[0].endswith("tsp"):
                        tsp_wait_all(tsp_env)
            status, body = daemon.call("GET", "/v1/status")
            succeeded = json.loads(body)["states"].get("succeeded", 0)
            if succeeded != 4 * per_round * rounds:
                raise RuntimeError(f"jobq: {succeeded} of {4 * per_round * rounds} budget jobs succeeded")
        finally:
            daemon.stop()
            subprocess.run([which("tsp"), "-K"], env=tsp_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.results["budget"] = {
            "per_row": per_round * rounds, "rounds": rounds,
            "rows": [{"part": name, "p50_ms": percentile(latencies[name], 50) * 1000,
                      "p99_ms": percentile(latencies[name], 99) * 1000} for name in rows]}
        for row in self.results["budget"]["rows"]:
            self.say(f"budget {row['part']}: p50 {row['p50_ms']:.3f} ms, p99 {row['p99_ms']:.2f} ms")

    def budget_programs(self, work):
        """Builds the budget's reference programs into `work`, then copies each to a new file:
        a program run as the linker wrote it started ~0.1 ms slower than the same bytes copied
        (the page cache of a file written through mmap; measured 2026-11-29), and what people
        run is installed, that is, copied (run.sh copies jobq's binaries too)."""
        cc = shutil.which("cc") or shutil.which("gcc")
        swiftc = shutil.which("swiftc")
        if cc is None and swiftc is not None:
            cc = shutil.which("clang", path=os.path.dirname(os.path.realpath(swiftc)))
        if cc is None or swiftc is None:
            sys.exit("the budget scenario needs a C compiler (cc, or the Swift toolchain's clang) and swiftc")
        sources = {"c nothing": ("nothing.c", self.C_NOTHING), "c client": ("client.c", self.C_CLIENT),
                   "swift nothing": ("main.swift", "")}
        built = {}
        for name, (file, text) in sources.items():
            source = os.path.join(work, file)
            with open(source, "w") as f:
                f.write(text)
            linked = os.path.join(work, name.replace(" ", "-") + ".linked")
            if file.endswith(".c"):
                command = [cc, "-O2", "-static", "-o", linked, source]
            else:
                command = [swiftc, "-O", "-static-executable", "-o", linked, source]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            built[name] = linked[:-len(".linked")]
            shutil.copyfile(linked, built[name])
            shutil.copymode(linked, built[name])
        return built

    @staticmethod
    def at_jobs():
        out = subprocess.run([which("atq")], capture_output=True, text=True).stdout
        return {line.split()[0] for line in out.splitlines() if line.strip()}
