-- Per-feed claims: several processes poll one database at once (README, Running at scale).
-- A poll round claims due feeds in batches (holder = the process's lease holder name, expiry =
-- now + [scale] feed_claim_seconds); the poll's write clears the claim with the next check. A
-- claim left by a killed process is taken by another once it expires. PostgreSQL claims the same
-- rows with FOR UPDATE SKIP LOCKED; SQLite's writers are serialised by BEGIN IMMEDIATE.
ALTER TABLE feeds ADD COLUMN claimed_by TEXT;
ALTER TABLE feeds ADD COLUMN claim_expires_at TEXT;
-- The claim query reads due feeds in next-check order and skips those claimed: with the claim
-- expiry in the index it never visits the table row of a feed held by another process.
CREATE INDEX feeds_due_claims ON feeds (next_check_at, claim_expires_at);
