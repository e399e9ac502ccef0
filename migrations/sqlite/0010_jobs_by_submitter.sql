-- A user's own jobs, for listings filtered by submitter (jobs run as their submitters, where
-- each user sees only theirs).
CREATE INDEX jobs_submitter ON jobs (submitter_uid, id);
