-- How long a store keeps raw request bodies and quarantined events (`days`; a store without
-- a row keeps them DEFAULT_RETENTION_DAYS, see domain/retention.py), and how far pruning has
-- gone (`pruned_until`, microseconds: requests received before it have had their body emptied).
CREATE TABLE store_retention (
    store_id TEXT PRIMARY KEY,
    days INTEGER,
    pruned_until INTEGER NOT NULL DEFAULT 0
);
