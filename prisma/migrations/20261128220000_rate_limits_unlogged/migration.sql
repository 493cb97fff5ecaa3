-- Rate-limit counters are hit on every task request and reply. Unlogged, they write no WAL, so
-- their commits do not wait for a disk flush; after a crash Postgres empties the table, which
-- only restarts the current windows.
ALTER TABLE "rate_limit_buckets" SET UNLOGGED;
