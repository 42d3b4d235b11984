-- Work only one process may do at a time (polling on SQLite): held by one process until it
-- expires, renewed while the holder lives. Taken with a compare-and-set UPDATE on what was read,
-- which PostgreSQL runs the same way.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
