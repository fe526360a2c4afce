-- When each dedupe id and channel value was last written, so old ones can be swept.
ALTER TABLE inbound_seen ADD COLUMN seen_at REAL NOT NULL DEFAULT 0;
ALTER TABLE kv ADD COLUMN updated_at REAL NOT NULL DEFAULT 0;
UPDATE inbound_seen SET seen_at = CAST(strftime('%s', 'now') AS REAL);
UPDATE kv SET updated_at = CAST(strftime('%s', 'now') AS REAL);
CREATE INDEX inbound_seen_age ON inbound_seen(seen_at);
CREATE INDEX kv_age ON kv(updated_at);
