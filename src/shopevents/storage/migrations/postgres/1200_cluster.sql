-- Cluster mode (docs/scaling.md).
--
-- The purchase authority: every purchaseId of a store is claimed once, with the fingerprint
-- of its first record. Collectors claim a request's purchases here before they answer (new:
-- accepted, same fingerprint: duplicate, another: conflict); purchases entering the ledger
-- any other way (the REST API, imports, the embedded mode) are claimed by the trigger below,
-- so claims and ledger never disagree. The purchases already stored are claimed now.
CREATE TABLE purchase_claims (
    store_id TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, purchase_id)
);
INSERT INTO purchase_claims (store_id, purchase_id, fingerprint, claimed_at)
    SELECT store_id, purchase_id, fingerprint, received_at FROM purchases
    ON CONFLICT DO NOTHING;
-- One statement-level trigger (the inserted rows as a table, COPY included). The body's
-- semicolons are written \073: the migration runner splits statements at semicolons.
CREATE FUNCTION purchase_claims_from_ledger() RETURNS trigger LANGUAGE plpgsql AS
    E'BEGIN INSERT INTO purchase_claims (store_id, purchase_id, fingerprint, claimed_at) SELECT store_id, purchase_id, fingerprint, received_at FROM added ON CONFLICT DO NOTHING\073 RETURN NULL\073 END';
CREATE TRIGGER purchases_claim AFTER INSERT ON purchases
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION purchase_claims_from_ledger();

-- The collector's id of each request (cluster mode): a processor that is given a message
-- again (a redelivery after a crash) finds it applied and skips it.
ALTER TABLE requests ADD COLUMN intake_id TEXT;
CREATE UNIQUE INDEX requests_intake ON requests(store_id, intake_id) WHERE intake_id IS NOT NULL;

-- How far processors have applied each partition of the intake stream (`applied_through`:
-- the collector's receive time of the last message applied, µs; `pending`: messages still
-- in the partition), written at most once a second; `/metrics` and the dashboard show the
-- lag from it.
CREATE TABLE cluster_partitions (
    partition BIGINT PRIMARY KEY,
    processor TEXT NOT NULL,
    applied_through BIGINT NOT NULL,
    applied_at BIGINT NOT NULL,
    pending BIGINT NOT NULL DEFAULT 0
);
