-- Fair share: a claim takes each submitter's head jobs through this index (one seek per
-- submitter with queued jobs, whatever the backlog), and round-robins across submitters by the
-- turn each was last served at.

CREATE INDEX jobs_fair ON jobs (queue, submitter_uid, priority DESC, run_at, id) WHERE state = 'queued';

-- The claim that last served each submitter of a queue: lower turns go first within a priority.
-- A job without a submitter counts as submitter -1.
CREATE TABLE queue_turns (
    queue     TEXT    NOT NULL,
    submitter INTEGER NOT NULL,
    turn      INTEGER NOT NULL,
    PRIMARY KEY (queue, submitter)
) WITHOUT ROWID;
