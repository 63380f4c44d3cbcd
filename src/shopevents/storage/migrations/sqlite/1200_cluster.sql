-- Cluster mode (docs/scaling.md) runs on PostgreSQL only; SQLite has the same tables, so
-- that the schema is one, without PostgreSQL's trigger claiming each new purchase.
CREATE TABLE purchase_claims (
    store_id TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (store_id, purchase_id)
);

ALTER TABLE requests ADD COLUMN intake_id TEXT;
CREATE UNIQUE INDEX requests_intake ON requests(store_id, intake_id) WHERE intake_id IS NOT NULL;

CREATE TABLE cluster_partitions (
    partition INTEGER PRIMARY KEY,
    processor TEXT NOT NULL,
    applied_through INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0
);
