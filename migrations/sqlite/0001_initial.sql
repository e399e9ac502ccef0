-- jobq's job store, first schema. Times are integer milliseconds since the Unix epoch (UTC).
-- Append-only: once released this file is never edited; a change is a new migration.

CREATE TABLE jobs (
    -- AUTOINCREMENT: an id is never reused, even after the newest job is pruned.
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    state           TEXT    NOT NULL
                    CHECK (state IN ('queued', 'blocked', 'running', 'succeeded', 'failed', 'cancelled')),
    queue           TEXT    NOT NULL,
    -- Higher runs first.
    priority        INTEGER NOT NULL DEFAULT 0,
    -- The job is ready once run_at <= now (delayed jobs and retries wait for it).
    run_at          INTEGER NOT NULL,
    -- The whole JobSpec as JSON (command, cwd, env, timeout, retry policy, ...). The columns
    -- above and below repeat the fields that queries filter or sort on.
    spec            TEXT    NOT NULL,
    idempotency_key TEXT,
    label           TEXT,
    submitter_uid   INTEGER,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    -- Attempts started so far (a claim counts one; a release undoes it).
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- Dependencies that have not succeeded yet; the job is 'blocked' while this is above 0.
    pending_deps    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    exit_code       INTEGER,
    signal          INTEGER,
    error           TEXT,
    stdout_path     TEXT,
    stderr_path     TEXT
);

-- The claim: the next ready job of a queue, highest priority, then earliest run_at, then id.
-- Partial, so its size is the backlog's, not the history's.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';

-- The dispatcher's timer: the earliest run_at of a queue's queued jobs.
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE state = 'queued';

-- Listing with filters and keyset pagination on id.
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_queue ON jobs (queue, id);
CREATE INDEX jobs_label ON jobs (label, id) WHERE label IS NOT NULL;

-- An idempotency key names at most one live (not yet terminal) job.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'blocked', 'running');

-- Pruning: terminal jobs by the time they finished.
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE state IN ('succeeded', 'failed', 'cancelled');

-- "job_id runs after depends_on has succeeded".
CREATE TABLE job_dependencies (
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, depends_on)
) WITHOUT ROWID;

CREATE INDEX job_dependencies_depends_on ON job_dependencies (depends_on, job_id);
