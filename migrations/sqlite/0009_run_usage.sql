-- What each run of a job's command used (the kernel's rusage of its process and of the
-- processes it waited for): CPU time in user and kernel mode, and the largest resident set.
-- The last ended run's on the job, for lists sorted by it; every ended run in
-- job_run_history, with its times and how it ended.
ALTER TABLE jobs ADD COLUMN cpu_user_us INTEGER;
ALTER TABLE jobs ADD COLUMN cpu_system_us INTEGER;
ALTER TABLE jobs ADD COLUMN max_rss_kib INTEGER;

CREATE TABLE job_run_history (
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- The run's number (jobs.runs when it started).
    run           INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER NOT NULL,
    exit_code     INTEGER,
    signal        INTEGER,
    -- How the run ended, when it failed.
    error         TEXT,
    cpu_user_us   INTEGER,
    cpu_system_us INTEGER,
    max_rss_kib   INTEGER,
    PRIMARY KEY (job_id, run)
) WITHOUT ROWID;
