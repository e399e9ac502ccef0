-- A paused queue stays paused across restarts (jobq pause before a maintenance window, then a
-- reboot, must not start its jobs): one row per paused queue, written before the pause is
-- acknowledged, deleted by resume.

CREATE TABLE paused_queues (
    queue     TEXT    NOT NULL PRIMARY KEY,
    paused_at INTEGER NOT NULL
) WITHOUT ROWID;
