-- Webhooks: per-endpoint leases (one delivery in flight per endpoint, across workers),
-- per-contact ordering, claim tokens that fence late results, and the attempt log.

ALTER TABLE webhook_endpoints ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN updated_at BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN claimed_until BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN claim_token TEXT;

ALTER TABLE webhook_deliveries ADD COLUMN outbox_id BIGINT;
ALTER TABLE webhook_deliveries ADD COLUMN occurred_at BIGINT;
ALTER TABLE webhook_deliveries ADD COLUMN order_key TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN claim_token TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN updated_at BIGINT;
ALTER TABLE webhook_deliveries ADD COLUMN finished_at BIGINT;
ALTER TABLE webhook_deliveries ADD COLUMN replays BIGINT NOT NULL DEFAULT 0;

ALTER TABLE webhook_attempts ADD COLUMN attempt BIGINT;
ALTER TABLE webhook_attempts ADD COLUMN outcome TEXT;

CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint_id, order_key, outbox_id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_store ON webhook_deliveries(store_id, status, created_at);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, at);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(finished_at) WHERE finished_at IS NOT NULL;
