-- `jobq workers QUEUE N` lasts across restarts, as a pause does: one row per queue whose number
-- of workers was set at run time. It takes precedence over the configuration's.

CREATE TABLE queue_workers (
    queue   TEXT    NOT NULL PRIMARY KEY,
    workers INTEGER NOT NULL CHECK (workers BETWEEN 1 AND 1024)
) WITHOUT ROWID;
