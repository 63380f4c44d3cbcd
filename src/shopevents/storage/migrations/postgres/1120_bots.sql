-- Bots (docs/privacy.md#bots): the ingest requests made by a crawler or a headless browser,
-- one row each (people's requests have none, so the table stays small and a report's
-- exclusion is a primary-key probe). `kept`: the store kept its bots when it came (its
-- figures count); else its events, purchases and carts are left out of reports.
CREATE TABLE bot_requests (
    id BIGINT PRIMARY KEY,
    store_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    kept INTEGER NOT NULL DEFAULT 0
);
-- A contact first seen from a bot (cleared when a person's browser identifies it).
ALTER TABLE contacts ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
-- The store keeps its bots' traffic in reports, abandonment and webhooks.
ALTER TABLE stores ADD COLUMN keep_bots INTEGER NOT NULL DEFAULT 0;
