-- Write keys of the Segment-compatible ingest (/v1/batch, /v1/track...): one store each,
-- stored as the SHA-256 of the key (a key is 32 random bytes), looked up by that hash.
CREATE TABLE segment_write_keys (
  id TEXT PRIMARY KEY,
  store_id TEXT NOT NULL REFERENCES stores(id),
  name TEXT NOT NULL DEFAULT '',
  key_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX segment_write_keys_store ON segment_write_keys(store_id);
