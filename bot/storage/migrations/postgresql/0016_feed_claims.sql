-- Per-feed claims (../0016_feed_claims.sql says why): several processes poll one database.
ALTER TABLE feeds ADD COLUMN claimed_by TEXT;
ALTER TABLE feeds ADD COLUMN claim_expires_at TEXT;
CREATE INDEX feeds_due_claims ON feeds (next_check_at, claim_expires_at);
