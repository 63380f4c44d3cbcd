-- Erasure of a contact: a keyed hash of each erased e-mail and tracker id (never the value)
-- in `suppressions`, which stops old traffic re-creating the contact; each erasure in
-- `erasures` (the audit log: who, when, which store, what counts). `pending_email` holds the
-- e-mail only while a large erasure waits for the worker, and is cleared when it is done.
-- `server_secrets` keeps the key of the hashes.
CREATE TABLE suppressions (
    store_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    erasure_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (store_id, kind, digest)
);

CREATE TABLE erasures (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    email_digest TEXT NOT NULL,
    actor TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    finished_at BIGINT,
    status TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    pending_email TEXT
);
CREATE INDEX erasures_store ON erasures(store_id, requested_at);
CREATE INDEX erasures_pending ON erasures(requested_at) WHERE status = 'pending';

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
