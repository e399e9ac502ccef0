-- The job_counts_insert trigger ran once per inserted row and halved the insert rate
-- (measured: 45,000 rows/s with it, 89,000 without, batches of 1,000 at synchronous=FULL).
-- The store now adds each insert transaction's rows to job_counts itself, one upsert per
-- (queue, state), in the same transaction. Updates and deletes keep their triggers.

DROP TRIGGER job_counts_insert;
