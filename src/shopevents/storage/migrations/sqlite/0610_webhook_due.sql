-- Webhook claims that cost the same whatever the backlog: each endpoint keeps when its
-- earliest pending delivery falls due (`next_due_at`, NULL when it has none), so finding
-- the endpoints to serve is a range over a small index of endpoints, and each endpoint's
-- next delivery is the first entry of its own slice of a partial index of pending rows.
-- Outbox rows are fanned out a bounded number of endpoints at a time (`fanout_after`:
-- the last endpoint id done for a row still being fanned out).

ALTER TABLE webhook_endpoints ADD COLUMN next_due_at INTEGER;
ALTER TABLE outbox ADD COLUMN fanout_after TEXT;

UPDATE webhook_endpoints SET next_due_at = (
    SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
    WHERE d.endpoint_id = webhook_endpoints.id AND d.status = 'pending'
);

CREATE INDEX webhook_endpoints_due ON webhook_endpoints(next_due_at) WHERE next_due_at IS NOT NULL AND enabled = 1;
CREATE INDEX webhook_deliveries_next ON webhook_deliveries(endpoint_id, next_attempt_at, outbox_id, id) WHERE status = 'pending';
CREATE INDEX webhook_endpoints_store_id ON webhook_endpoints(store_id, id);
