-- jobq's job store on PostgreSQL: the tables of migrations/sqlite/0001 to 0011 in one step, in
-- PostgreSQL's types, and what several nodes on one database need: the nodes themselves, the
-- node that runs each running job, counts that nodes change without waiting on each other, and
-- the jobs' output. Times are milliseconds since the Unix epoch, as on SQLite.

CREATE TABLE jobs (
    -- An identity: an id is never reused, even after the newest job is pruned.
    id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state           text    NOT NULL
                    CHECK (state IN ('queued', 'blocked', 'running', 'succeeded', 'failed', 'cancelled')),
    queue           text    NOT NULL,
    -- Higher runs first.
    priority        integer NOT NULL DEFAULT 0,
    -- The job is ready once run_at <= now (delayed jobs and retries wait for it).
    run_at          bigint  NOT NULL,
    -- The whole JobSpec as JSON text, as the API wrote it; the columns repeat the fields that
    -- queries filter or sort on.
    spec            text    NOT NULL,
    idempotency_key text,
    label           text,
    submitter_uid   bigint,
    max_attempts    integer NOT NULL CHECK (max_attempts >= 1),
    -- Attempts started so far (a claim counts one; a release undoes it).
    attempts        integer NOT NULL DEFAULT 0,
    -- Attempts cut short by a node's stop or loss, kept apart from attempts.
    interrupted     integer NOT NULL DEFAULT 0,
    -- Every start, never reset: it numbers each run's output and fences a record (below).
    runs            integer NOT NULL DEFAULT 0,
    -- Dependencies that have not succeeded yet; the job is 'blocked' while this is above 0.
    pending_deps    integer NOT NULL DEFAULT 0,
    created_at      bigint  NOT NULL,
    updated_at      bigint  NOT NULL,
    started_at      bigint,
    finished_at     bigint,
    exit_code       integer,
    signal          integer,
    error           text,
    stdout_path     text,
    stderr_path     text,
    -- A payload job's lease by a consumer, and what the consumer answered.
    lease_expires_at bigint,
    consumer        text,
    result          text,
    -- What the last ended run used.
    cpu_user_us     bigint,
    cpu_system_us   bigint,
    max_rss_kib     bigint,
    -- The node whose worker runs the job while it is running, and that node's incarnation
    -- (nodes.incarnation when it claimed the job). A node records a run's end only where state
    -- is 'running' and both are its own now: a node that lost the job (its heartbeat lapsed, and
    -- another node requeued it; or it restarted) can never record over a newer attempt, even one
    -- it claimed again itself.
    node            text,
    node_incarnation bigint
);

CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE state = 'queued';
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_queue ON jobs (queue, id);
CREATE INDEX jobs_label ON jobs (label, id) WHERE label IS NOT NULL;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL AND state IN ('queued', 'blocked', 'running');
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
CREATE INDEX jobs_submitter ON jobs (submitter_uid, id);
CREATE INDEX jobs_fair ON jobs (queue, submitter_uid, priority DESC, run_at, id) WHERE state = 'queued';
-- The running jobs of a node, for the node that rescues them when its heartbeat lapses.
CREATE INDEX jobs_node ON jobs (node) WHERE state = 'running';

CREATE TABLE job_dependencies (
    job_id     bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX job_dependencies_depends_on ON job_dependencies (depends_on, job_id);

-- Jobs by queue and state, as changes counted by each node: a node adds to its own rows only,
-- so that nodes never wait on one another's row locks; a count is the sum over the nodes. The
-- triggers below keep it, once per statement, naming the node by the session's `jobq.node`
-- (set by the store when it connects).
CREATE TABLE job_counts (
    queue text   NOT NULL,
    state text   NOT NULL,
    node  text   NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (queue, state, node)
);

CREATE FUNCTION jobq_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (queue, state, node, n)
    SELECT queue, state, coalesce(current_setting('jobq.node', true), ''), count(*) FROM inserted GROUP BY queue, state
    ON CONFLICT (queue, state, node) DO UPDATE SET n = job_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION jobq_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (queue, state, node, n)
    SELECT queue, state, coalesce(current_setting('jobq.node', true), ''), -count(*) FROM deleted GROUP BY queue, state
    ON CONFLICT (queue, state, node) DO UPDATE SET n = job_counts.n + excluded.n;
    RETURN NULL;
END $$;

-- Only the rows whose state or queue changed move between counts (a lease's heartbeat does not).
CREATE FUNCTION jobq_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (queue, state, node, n)
    SELECT queue, state, coalesce(current_setting('jobq.node', true), ''), sum(n)::bigint FROM (
        SELECT o.queue, o.state, -1 AS n FROM deleted o JOIN inserted i ON i.id = o.id
        WHERE o.state <> i.state OR o.queue <> i.queue
        UNION ALL
        SELECT i.queue, i.state, 1 FROM deleted o JOIN inserted i ON i.id = o.id
        WHERE o.state <> i.state OR o.queue <> i.queue
    ) AS moved GROUP BY queue, state
    ON CONFLICT (queue, state, node) DO UPDATE SET n = job_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION jobq_count_inserted();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION jobq_count_deleted();
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION jobq_count_updated();

CREATE TABLE paused_queues (
    queue     text   NOT NULL PRIMARY KEY,
    paused_at bigint NOT NULL
);

CREATE TABLE queue_workers (
    queue   text    NOT NULL PRIMARY KEY,
    workers integer NOT NULL CHECK (workers BETWEEN 1 AND 1024)
);

CREATE TABLE queue_kinds (
    queue text NOT NULL PRIMARY KEY,
    kind  text NOT NULL CHECK (kind IN ('command', 'payload'))
);

CREATE TABLE job_run_history (
    job_id        bigint  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- The run's number (jobs.runs when it started).
    run           integer NOT NULL,
    started_at    bigint,
    finished_at   bigint  NOT NULL,
    exit_code     integer,
    signal        integer,
    -- How the run ended, when it failed.
    error         text,
    cpu_user_us   bigint,
    cpu_system_us bigint,
    max_rss_kib   bigint,
    -- The node that ran it.
    node          text,
    PRIMARY KEY (job_id, run)
);

CREATE TABLE queue_turns (
    queue     text   NOT NULL,
    submitter bigint NOT NULL,
    turn      bigint NOT NULL,
    PRIMARY KEY (queue, submitter)
);

-- The jobqd serving this database. A node's heartbeat moves heartbeat_at on; a node whose
-- heartbeat is older than the lapse loses its running jobs to the others, which mark it lapsed.
-- incarnation only grows: at each start of the node, and when it lapses, so that a node that
-- comes back knows the jobs it ran are no longer its.
CREATE TABLE nodes (
    name         text    NOT NULL PRIMARY KEY,
    incarnation  bigint  NOT NULL,
    started_at   bigint  NOT NULL,
    heartbeat_at bigint  NOT NULL,
    lapsed       boolean NOT NULL DEFAULT false,
    -- The queues it serves (NULL: all of them).
    serves       text[]
);

-- A run's output, in chunks appended as the run writes (capped as on files): any node reads and
-- follows any job's output.
CREATE TABLE job_output (
    job_id bigint   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    run    integer  NOT NULL,
    -- 1: stdout, 2: stderr.
    stream smallint NOT NULL CHECK (stream IN (1, 2)),
    seq    integer  NOT NULL,
    data   bytea    NOT NULL,
    PRIMARY KEY (job_id, run, stream, seq)
);
