-- Payload jobs and their leases (docs/consumers.md). A queue is served either by jobqd's
-- workers ('command') or by external consumers ('payload'), never both: it takes the kind of
-- its first job, and keeps it (also once its jobs are pruned).

CREATE TABLE queue_kinds (
    queue TEXT NOT NULL PRIMARY KEY,
    kind  TEXT NOT NULL CHECK (kind IN ('command', 'payload'))
) WITHOUT ROWID;

-- Every queue with jobs so far ran commands.
INSERT INTO queue_kinds (queue, kind) SELECT DISTINCT queue, 'command' FROM jobs;

-- A payload job held by a consumer is 'running' with a lease: who holds it and until when.
-- The token that names the lease is the job's id and `runs` (a new lease is a new run).
ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
-- The consumer that leased the job last (kept after its lease ends, for `jobq show`).
ALTER TABLE jobs ADD COLUMN consumer TEXT;
-- What the consumer said when it completed the job (JSON), if anything.
ALTER TABLE jobs ADD COLUMN result TEXT;

-- The expiry timer: the earliest lease to end.
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
