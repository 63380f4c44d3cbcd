-- Purchase adjustments: refunds (by amount, or by lines and quantities: returns) and
-- cancellations. An adjustment is recorded once per (store, purchaseId, adjustmentId); a
-- cancellation's adjustmentId is 'cancellation'. Applied adjustments are append-only (the
-- report rollups follow them by id, like purchases); an adjustment whose purchase has not
-- arrived waits in pending_adjustments and is applied (a new row here) when it does.
-- Amounts are exact millionths of the purchase's currency; lines is JSON
-- [{productId, quantity, amount}] for a refund by lines.
CREATE TABLE purchase_adjustments (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    adjustment_id TEXT NOT NULL,
    purchase_row INTEGER NOT NULL,
    kind TEXT NOT NULL,
    adjusted_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    purchased_at INTEGER NOT NULL,
    source_type TEXT,
    source_name TEXT,
    payment_method TEXT,
    lines TEXT,
    reason TEXT,
    channel TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    UNIQUE (store_id, purchase_id, adjustment_id)
);
CREATE INDEX purchase_adjustments_store_time ON purchase_adjustments(store_id, adjusted_at);
CREATE INDEX purchase_adjustments_row ON purchase_adjustments(purchase_row);

CREATE TABLE pending_adjustments (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    adjustment_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    adjusted_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    amount INTEGER,
    lines TEXT,
    reason TEXT,
    channel TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    UNIQUE (store_id, purchase_id, adjustment_id)
);

-- Adjustments that could not be applied when their purchase arrived (more than was left).
CREATE TABLE refused_adjustments (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    adjustment_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    data TEXT NOT NULL
);

-- Refunds and cancellations per store-local day, dated by the adjustment (see 0200).
CREATE TABLE report_refund_days (
    store_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    currency TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source_name TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (store_id, day, currency, source_type, source_name, payment_method, kind)
);
