-- Consent: a store may require the visitor's consent before anything is recorded, and may
-- honour the browser's Global Privacy Control / Do Not Track signals (docs/privacy.md#consent).
ALTER TABLE stores ADD COLUMN consent_required BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN honour_gpc BIGINT NOT NULL DEFAULT 0;
