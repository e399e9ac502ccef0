-- The store's two hottest writes as functions, and counts that a node's own statements do not
-- wait on each other for.
--
-- A claim and the settling of a finished job's dependents are each one statement from a node
-- (one round trip), and PL/pgSQL keeps the plans of the statements inside for the session,
-- where a statement sent as text is parsed and planned at every call.
--
-- job_counts gains a slot (the backend's pid modulo 16): each connection of a node adds to its
-- own rows, so that a claim and a run's end on two connections of one node no longer wait for
-- each other's commit on the same count row.

ALTER TABLE job_counts ADD COLUMN slot integer NOT NULL DEFAULT 0;
ALTER TABLE job_counts DROP CONSTRAINT job_counts_pkey;
ALTER TABLE job_counts ADD PRIMARY KEY (queue, state, node, slot);

CREATE OR REPLACE FUNCTION jobq_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (queue, state, node, slot, n)
    SELECT queue, state, coalesce(current_setting('jobq.node', true), ''), pg_backend_pid() % 16, count(*)
    FROM inserted GROUP BY queue, state
    ON CONFLICT (queue, state, node, slot) DO UPDATE SET n = job_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jobq_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (queue, state, node, slot, n)
    SELECT queue, state, coalesce(current_setting('jobq.node', true), ''), pg_backend_pid() % 16, -count(*)
    FROM deleted GROUP BY queue, state
    ON CONFLICT (queue, state, node, slot) DO UPDATE SET n = job_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jobq_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (queue, state, node, slot, n)
    SELECT queue, state, coalesce(current_setting('jobq.node', true), ''), pg_backend_pid() % 16, sum(n)::bigint FROM (
        SELECT o.queue, o.state, -1 AS n FROM deleted o JOIN inserted i ON i.id = o.id
        WHERE o.state <> i.state OR o.queue <> i.queue
        UNION ALL
        SELECT i.queue, i.state, 1 FROM deleted o JOIN inserted i ON i.id = o.id
        WHERE o.state <> i.state OR o.queue <> i.queue
    ) AS moved GROUP BY queue, state
    ON CONFLICT (queue, state, node, slot) DO UPDATE SET n = job_counts.n + excluded.n;
    RETURN NULL;
END $$;

-- Settles a finished job's dependents: on success, each blocked dependent waits for one job fewer and is
-- queued at zero; on failure or cancellation (`how`: 'failed' or 'was cancelled'), the blocked
-- dependents fail, and theirs, level by level, each naming the job it ran after that failed
-- (the lowest id, when several did). Answers the jobs it queued and the jobs it failed, sorted.
CREATE FUNCTION jobq_settle_dependents(
    finished bigint, succeeded boolean, how text, at_time bigint, OUT unblocked bigint[], OUT failed bigint[]
) LANGUAGE plpgsql AS $$
DECLARE
    frontier bigint[] := ARRAY[finished];
BEGIN
    unblocked := '{}';
    failed := '{}';
    IF succeeded THEN
        WITH settled AS (
            UPDATE jobs SET pending_deps = pending_deps - 1, updated_at = at_time,
                state = CASE WHEN pending_deps <= 1 THEN 'queued' ELSE 'blocked' END
            WHERE state = 'blocked' AND id IN (SELECT job_id FROM job_dependencies WHERE depends_on = finished)
            RETURNING id, state
        )
        SELECT coalesce(array_agg(id ORDER BY id) FILTER (WHERE state = 'queued'), '{}') INTO unblocked FROM settled;
        RETURN;
    END IF;
    LOOP
        WITH level AS (
            UPDATE jobs SET state = 'failed', pending_deps = 0, finished_at = at_time, updated_at = at_time,
                error = 'job ' || cause.depends_on || ', which this job runs after, '
                        || CASE WHEN cause.depends_on = finished THEN how ELSE 'failed' END
            FROM (SELECT DISTINCT ON (job_id) job_id, depends_on FROM job_dependencies
                  WHERE depends_on = ANY(frontier) ORDER BY job_id, depends_on) cause
            WHERE jobs.id = cause.job_id AND jobs.state = 'blocked'
            RETURNING jobs.id
        )
        SELECT coalesce(array_agg(id), '{}') INTO frontier FROM level;
        EXIT WHEN cardinality(frontier) = 0;
        failed := failed || frontier;
    END LOOP;
    failed := ARRAY(SELECT unnest(failed) ORDER BY 1);
END $$;

-- Claims up to p_limit ready jobs of p_queue for node p_node (incarnation p_incarnation): each
-- becomes `running` there with one more attempt and its output paths under p_log_dir. In
-- strict FIFO without a cap (p_fair false) they go by priority, run_at and id; otherwise (fair
-- share) each submitter's head jobs are picked first, those over p_cap running left out, then
-- by priority, rank within the submitter and, with p_round_robin, the submitter's last turn,
-- and the served submitters take the latest turns. Rows another node is claiming are skipped
-- (FOR UPDATE SKIP LOCKED). Answers the claimed jobs in the order they start (claim_order),
-- and whether a ready job was left (claim_left): one row with a NULL job when none was claimed.
CREATE FUNCTION jobq_claim(
    p_queue text, p_limit integer, p_time bigint, p_node text, p_incarnation bigint, p_log_dir text,
    p_fair boolean, p_round_robin boolean, p_cap integer
) RETURNS TABLE (claimed_job jobs, claim_order bigint, claim_left boolean) LANGUAGE plpgsql AS $$
DECLARE
    picks bigint[];
    taken jobs[];
    considered bigint;
    left_over boolean := false;
    first_submitter bigint;
    one_submitter boolean := false;
BEGIN
    IF EXISTS (SELECT 1 FROM queue_kinds WHERE queue = p_queue AND kind = 'payload')
       OR EXISTS (SELECT 1 FROM paused_queues WHERE queue = p_queue) THEN
        RETURN QUERY SELECT NULL::jobs, 0::bigint, false;
        RETURN;
    END IF;
    IF p_fair AND p_cap IS NULL THEN
        -- One submitter (or none) in the queue: the fair order is the plain one, and the claim
        -- walks one index.
        first_submitter := (SELECT submitter_uid FROM jobs
                            WHERE state = 'queued' AND queue = p_queue AND submitter_uid IS NOT NULL
                            ORDER BY submitter_uid LIMIT 1);
        one_submitter := first_submitter IS NULL
            OR (NOT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND queue = p_queue AND submitter_uid > first_submitter)
                AND NOT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND queue = p_queue AND submitter_uid IS NULL));
    END IF;
    IF p_fair AND NOT one_submitter THEN
        WITH RECURSIVE submitters(uid) AS (
            SELECT (SELECT submitter_uid FROM jobs
                    WHERE state = 'queued' AND queue = p_queue AND submitter_uid IS NOT NULL ORDER BY submitter_uid LIMIT 1)
            UNION ALL
            SELECT (SELECT submitter_uid FROM jobs
                    WHERE state = 'queued' AND queue = p_queue AND submitter_uid > submitters.uid ORDER BY submitter_uid LIMIT 1)
            FROM submitters WHERE uid IS NOT NULL
        ),
        running(uid, n) AS (
            SELECT submitter_uid, count(*) FROM jobs
            WHERE state = 'running' AND queue = p_queue AND p_cap IS NOT NULL GROUP BY submitter_uid
        ),
        heads AS (
            -- Each submitter's first ready jobs, and those of no submitter: two index scans of
            -- jobs_fair each, where one test for both would read the whole queue.
            SELECT j.* FROM submitters s CROSS JOIN LATERAL (
                SELECT id, priority, run_at, submitter_uid FROM jobs
                WHERE state = 'queued' AND queue = p_queue AND submitter_uid = s.uid AND run_at <= p_time
                ORDER BY priority DESC, run_at, id LIMIT p_limit) j
            WHERE s.uid IS NOT NULL
            UNION ALL
            (SELECT id, priority, run_at, submitter_uid FROM jobs
             WHERE state = 'queued' AND queue = p_queue AND submitter_uid IS NULL AND run_at <= p_time
             ORDER BY priority DESC, run_at, id LIMIT p_limit)
        ),
        candidates AS (
            SELECT id, priority, run_at, submitter_uid AS uid,
                   row_number() OVER (PARTITION BY submitter_uid ORDER BY priority DESC, run_at, id) AS rank
            FROM heads
        )
        SELECT coalesce(array_agg(id ORDER BY ordinal), '{}') INTO picks FROM (
            SELECT c.id, row_number() OVER (
                       ORDER BY c.priority DESC,
                                CASE WHEN p_round_robin THEN c.rank END, CASE WHEN p_round_robin THEN coalesce(t.turn, 0) END,
                                c.run_at, c.id) AS ordinal
            FROM candidates c
                LEFT JOIN queue_turns t ON t.queue = p_queue AND t.submitter = coalesce(c.uid, -1)
                LEFT JOIN running r ON r.uid IS NOT DISTINCT FROM c.uid
            WHERE c.rank <= coalesce(p_cap, 2147483647) - coalesce(r.n, 0)
            ORDER BY ordinal
            LIMIT p_limit
        ) chosen;
        IF cardinality(picks) = 0 THEN
            -- Nothing to take: whether ready jobs wait (for a running job of their submitter to end).
            left_over := p_cap IS NOT NULL
                AND EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND queue = p_queue AND run_at <= p_time);
            RETURN QUERY SELECT NULL::jobs, 0::bigint, left_over;
            RETURN;
        END IF;
    END IF;
    WITH ready AS (
        SELECT id, priority, run_at FROM jobs
        WHERE state = 'queued' AND queue = p_queue AND run_at <= p_time AND (picks IS NULL OR id = ANY(picks))
        ORDER BY priority DESC, run_at, id
        LIMIT p_limit + 1
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE jobs SET state = 'running', attempts = attempts + 1, runs = runs + 1, started_at = p_time,
            updated_at = p_time, finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL, node = p_node,
            node_incarnation = p_incarnation,
            stdout_path = p_log_dir || '/' || id || CASE WHEN runs = 0 THEN '' ELSE '.' || (runs + 1) END || '.out',
            stderr_path = p_log_dir || '/' || id || CASE WHEN runs = 0 THEN '' ELSE '.' || (runs + 1) END || '.err'
        WHERE id IN (SELECT id FROM ready ORDER BY priority DESC, run_at, id LIMIT p_limit)
        RETURNING jobs AS job
    )
    SELECT coalesce(array_agg(job ORDER BY
               CASE WHEN picks IS NULL THEN NULL ELSE array_position(picks, (job).id) END,
               (job).priority DESC, (job).run_at, (job).id), '{}'),
           (SELECT count(*) FROM ready)
    INTO taken, considered FROM claimed;
    IF picks IS NULL THEN
        left_over := considered > p_limit;
    ELSIF cardinality(taken) = p_limit OR p_cap IS NOT NULL THEN
        left_over := EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND queue = p_queue AND run_at <= p_time);
    END IF;
    IF p_fair AND p_round_robin AND cardinality(taken) > 0 THEN
        -- Each served submitter's turn follows its last job in the claim's order; a lone
        -- submitter who holds the latest turn already keeps it.
        WITH served AS (
            SELECT coalesce((taken[i]).submitter_uid, -1) AS submitter, max(i) AS last_ordinal
            FROM generate_subscripts(taken, 1) AS i GROUP BY 1
        ), ranked AS (
            SELECT submitter, row_number() OVER (ORDER BY last_ordinal) AS step, count(*) OVER () AS n FROM served
        )
        INSERT INTO queue_turns (queue, submitter, turn)
        SELECT p_queue, ranked.submitter, (SELECT coalesce(max(turn), 0) FROM queue_turns WHERE queue = p_queue) + ranked.step
        FROM ranked
        WHERE NOT (ranked.n = 1 AND EXISTS (
            SELECT 1 FROM queue_turns WHERE queue = p_queue AND submitter = ranked.submitter
              AND turn = (SELECT max(turn) FROM queue_turns WHERE queue = p_queue)))
        ON CONFLICT (queue, submitter) DO UPDATE SET turn = excluded.turn;
    END IF;
    IF cardinality(taken) = 0 THEN
        RETURN QUERY SELECT NULL::jobs, 0::bigint, left_over;
        RETURN;
    END IF;
    RETURN QUERY SELECT taken[i], i::bigint, left_over FROM generate_subscripts(taken, 1) AS i;
END $$;
