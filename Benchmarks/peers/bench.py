"""The benchmark's state: its options, its results and their table, the daemons it started."""
import shutil
import sys
import tempfile

from tools import RUNNING


class BenchBase:
    """What every scenario shares: the options, the results and their table, the daemons started."""

    def __init__(self, options):
        self.options = options
        self.bin = options.bin
        self.rows = []      # (section, row, figures..., ratio text)
        self.results = {}   # for --json
        self.root = tempfile.mkdtemp(prefix="jobq-peers-", dir=options.workdir)

    def close(self):
        for daemon in list(RUNNING):
            daemon.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh(self, name):
        path = tempfile.mkdtemp(prefix=name + "-", dir=self.root)
        return path

    def say(self, text):
        print(text, file=sys.stderr, flush=True)

    def table(self):
        out = []
        add = out.append
        r = self.results
        add("| scenario | jobq | peer | ratio jobq/peer | target |")
        add("|---|---:|---:|---:|---|")
        if "machine" in r:
            m = r["machine"]
            add(f"| machine: 4 KiB pwrite+fdatasync | {m['fdatasync_per_s']:,.0f} /s | | | bounds one commit per answer |")
            add(f"| machine: posix_spawn+waitpid of true | {m['posix_spawn_per_s']:,.0f} /s | | | bounds jobs run, processes per submit |")
        if "cli" in r:
            c = r["cli"]
            j = c["jobq"]
            for peer in ("tsp", "nq", "batch"):
                p = c[peer]
                target = "≥ 1.0x, p99 ≤ tsp's" if peer == "tsp" else ""
                add(f"| CLI submit ({c['jobs_per_tool']:,} `true`, a process each) vs `{peer}` | "
                    f"{j['submits_per_s']:,.0f} /s (p50 {j['p50_ms']:.2f}, p99 {j['p99_ms']:.2f} ms) | "
                    f"{p['submits_per_s']:,.0f} /s (p50 {p['p50_ms']:.2f}, p99 {p['p99_ms']:.2f} ms) | "
                    f"{j['submits_per_s'] / p['submits_per_s']:.2f}x | {target} |")
        if "budget" in r:
            for row in r["budget"]["rows"]:
                add(f"| bound: one CLI submit, part by part: {row['part']} | p50 {row['p50_ms']:.2f} ms "
                    f"(p99 {row['p99_ms']:.2f}) | | | bounds the CLI row |")
        for row in r.get("api", []):
            shape = f"{row['clients']} client{'s' if row['clients'] > 1 else ''}, " + \
                ("single" if row["batch"] == 1 else f"batches of {row['batch']:,}")
            if "jobq /healthz" in row:
                add(f"| bound: jobqd `GET /healthz` (HTTP alone: no store, no fsync), {shape} | "
                    f"{row['jobq /healthz']:,.0f} /s | | | bounds single requests |")
            for peer, target in (("beanstalkd", "≥ 1.0x"), ("beanstalkd -f0", "≥ 5x")):
                add(f"| durable API submit, {shape} ({row['jobs_per_tool']:,} jobs) vs `{peer}` | "
                    f"{row['jobq']:,.0f} /s | {row[peer]:,.0f} /s | {row['jobq'] / row[peer]:.2f}x | {target} |")
        if "e2e" in r:
            e = r["e2e"]
            for peer in ("tsp", "nq"):
                for mode in ("jobq --stdin --split", "jobq --stdin", "jobq per process"):
                    target = "≥ 1.5x" if peer == "tsp" else ""
                    add(f"| end to end, {e['jobs']:,} `true`, 2 workers: `{mode}` vs `{peer}` | {e[mode]:,.0f} jobs/s | "
                        f"{e[peer]:,.0f} jobs/s | {e[mode] / e[peer]:.2f}x | {target} |")
        for row in r.get("consumers", []):
            shape = f"{row['clients']} consumer{'s' if row['clients'] > 1 else ''}, " + \
                ("single" if row["batch"] == 1 else f"batches of {row['batch']}")
            for peer in ("beanstalkd", "beanstalkd -f0"):
                target = {(16, 1, "beanstalkd -f0"): "≥ 1.0x", (1, 100, "beanstalkd"): "≥ 2x",
                          (16, 100, "beanstalkd"): "≥ 2x", (16, 1, "beanstalkd"): "aim ≥ 0.8x"}.get((row["clients"], row["batch"], peer), "")
                add(f"| lease + complete, {shape} ({row['jobs_per_round']:,} jobs) vs `{peer}` reserve + delete | "
                    f"{row['jobq']:,.0f} /s | {row[peer]:,.0f} /s | {row['jobq'] / row[peer]:.2f}x | {target} |")
                if "jobq, completion carried" in row:
                    carried = row["jobq, completion carried"]
                    add(f"| the same, completions carried by the next lease (one request a lease) vs `{peer}` | "
                        f"{carried:,.0f} /s | {row[peer]:,.0f} /s | {carried / row[peer]:.2f}x | {target} |")
        if "round_trip" in r:
            t = r["round_trip"]
            j, p = t["jobq"], t["beanstalkd -f0"]
            add(f"| put → get → task_done on an idle queue ({t['count']} round trips) vs `beanstalkd -f0` | "
                f"p50 {j['p50_ms']:.2f} ms, p99 {j['p99_ms']:.2f} ms | p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms | | p50 ≤ 2 ms |")
        for row in r.get("memory", []):
            if row["queued"] == 0:
                add(f"| RSS idle | {row['jobq_rss_mb']:.1f} MB | {row['beanstalkd_rss_mb']:.1f} MB | | < 30 MB |")
            else:
                target = "< 120 MB" if row["queued"] >= 1_000_000 else ""
                add(f"| RSS after a restart with {row['queued']:,} queued (after the submits) | {row['jobq_rss_mb']:.1f} MB "
                    f"({row['jobq_rss_after_submit_mb']:.1f}) | {row['beanstalkd_rss_mb']:.1f} MB "
                    f"({row['beanstalkd_rss_after_submit_mb']:.1f}) | | {target} |")
                target = "< 2 s" if row["queued"] >= 1_000_000 else ""
                add(f"| start to READY=1 with {row['queued']:,} queued | {row['jobq_ready_s']:.2f} s | "
                    f"{row['beanstalkd_ready_s']:.2f} s (to its first answer) | | {target} |")
        for row in r.get("postgres", []):
            better = max(("pgqueuer", "procrastinate"), key=lambda peer: row[peer])
            add(f"| PostgreSQL: {row['row']} ({row['jobs']:,} jobs) vs the better of pgqueuer "
                f"({row['pgqueuer']:,.0f} /s) and procrastinate ({row['procrastinate']:,.0f} /s) | {row['jobq']:,.0f} /s | "
                f"{row[better]:,.0f} /s ({better}) | {row['jobq'] / row[better]:.2f}x | ≥ 1.0x, aim ≥ 2x |")
        return "\n".join(out)
