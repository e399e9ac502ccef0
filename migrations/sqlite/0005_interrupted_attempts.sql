-- An attempt cut short by jobqd's stop or crash is not counted in `attempts` (the job runs
-- again, and a count over its limit said nothing true); it is counted here instead, so that
-- `jobq show` can say what happened.

ALTER TABLE jobs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
