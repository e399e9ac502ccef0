-- How many times each job has started, never reset (a retry by hand resets `attempts`): it
-- numbers the output files of each run, so that a retry does not overwrite the first run's
-- output (run 1: ID.out and ID.err; run N: ID.N.out and ID.N.err).

ALTER TABLE jobs ADD COLUMN runs INTEGER NOT NULL DEFAULT 0;

-- Jobs that started before this column: their one kept output is their last run's.
UPDATE jobs SET runs = 1 WHERE stdout_path IS NOT NULL;
