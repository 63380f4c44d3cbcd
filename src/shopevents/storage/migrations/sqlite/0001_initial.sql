-- Instants are microseconds since the Unix epoch (UTC); money is an exact integer of
-- millionths of the currency unit, except contacts.total_amount, an exact decimal text that
-- no number of purchases can overflow; JSON documents are TEXT.
CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    currency TEXT NOT NULL DEFAULT 'EUR',
    timezone TEXT NOT NULL DEFAULT 'UTC',
    domains TEXT NOT NULL DEFAULT '[]',
    abandon_after_seconds INTEGER NOT NULL DEFAULT 1800,
    tag_mode INTEGER NOT NULL DEFAULT 0,
    tracking_enabled INTEGER NOT NULL DEFAULT 1,
    excluded_paths TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    name TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_store ON api_keys(store_id);

CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    channel TEXT NOT NULL,
    request_key TEXT,
    tracker_id TEXT,
    contact_id TEXT,
    origin TEXT,
    body BLOB NOT NULL,
    response TEXT,
    accepted INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX requests_key ON requests(store_id, request_key) WHERE request_key IS NOT NULL;
CREATE INDEX requests_store_time ON requests(store_id, received_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    request_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    contact_id TEXT,
    warnings TEXT,
    data TEXT NOT NULL
);
CREATE INDEX events_store_time ON events(store_id, received_at);
CREATE INDEX events_contact ON events(contact_id);

CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    request_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    type TEXT NOT NULL,
    code TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    raw BLOB NOT NULL,
    errors TEXT NOT NULL,
    replayed_at INTEGER,
    replay_status TEXT
);
CREATE INDEX quarantine_store_time ON quarantine(store_id, received_at);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    email TEXT,
    fields TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    merged_into TEXT,
    total_purchases INTEGER NOT NULL DEFAULT 0,
    total_amount TEXT NOT NULL DEFAULT '0',
    first_purchase_at INTEGER,
    last_purchase_at INTEGER
);
CREATE UNIQUE INDEX contacts_email ON contacts(store_id, email) WHERE email IS NOT NULL;
CREATE INDEX contacts_store_updated ON contacts(store_id, updated_at);

CREATE TABLE trackers (
    store_id TEXT NOT NULL,
    tracker_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (store_id, tracker_id)
);
CREATE INDEX trackers_contact ON trackers(contact_id);

CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    from_contact TEXT NOT NULL,
    into_contact TEXT NOT NULL,
    request_id INTEGER,
    at INTEGER NOT NULL,
    moved TEXT NOT NULL,
    undone_at INTEGER
);
CREATE INDEX merges_into ON merges(into_contact);
CREATE INDEX merges_from ON merges(from_contact);

CREATE TABLE products (
    store_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    unit_price INTEGER NOT NULL,
    availability TEXT,
    data TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (store_id, product_id)
);

CREATE TABLE carts (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    cart_id TEXT NOT NULL,
    state TEXT NOT NULL,
    lines TEXT NOT NULL DEFAULT '[]',
    total_price INTEGER NOT NULL DEFAULT 0,
    total_quantity INTEGER NOT NULL DEFAULT 0,
    currency TEXT,
    recovery_url TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    abandon_at INTEGER,
    purchase_id TEXT,
    purchase_link TEXT,
    closed_lines TEXT
);
CREATE INDEX carts_contact ON carts(store_id, contact_id, cart_id);
CREATE INDEX carts_due ON carts(abandon_at) WHERE state = 'active';
CREATE INDEX carts_store_state ON carts(store_id, state, updated_at);

CREATE TABLE cart_transitions (
    id INTEGER PRIMARY KEY,
    cart_row INTEGER NOT NULL,
    store_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    request_id INTEGER
);
CREATE INDEX cart_transitions_cart ON cart_transitions(cart_row);
CREATE INDEX cart_transitions_store_time ON cart_transitions(store_id, at);

CREATE TABLE purchases (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    contact_id TEXT,
    cart_id TEXT,
    channel TEXT NOT NULL,
    request_id INTEGER,
    purchased_at INTEGER NOT NULL,
    date_offset INTEGER,
    received_at INTEGER NOT NULL,
    total_price INTEGER NOT NULL,
    total_quantity INTEGER NOT NULL,
    currency TEXT NOT NULL,
    payment_method TEXT,
    source_type TEXT,
    source_name TEXT,
    fingerprint TEXT NOT NULL,
    recovered INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    UNIQUE (store_id, purchase_id)
);
CREATE INDEX purchases_store_time ON purchases(store_id, purchased_at);
CREATE INDEX purchases_contact ON purchases(contact_id);

CREATE TABLE purchase_lines (
    purchase_row INTEGER NOT NULL,
    store_id TEXT NOT NULL,
    purchased_at INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price INTEGER NOT NULL
);
CREATE INDEX purchase_lines_store_time ON purchase_lines(store_id, purchased_at);

CREATE TABLE purchase_conflicts (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    purchase_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    request_id INTEGER,
    received_at INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX purchase_conflicts_pid ON purchase_conflicts(store_id, purchase_id);

CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    event_id INTEGER,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX activities_contact ON activities(contact_id, at, id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    payload TEXT NOT NULL,
    dispatched_at INTEGER
);
CREATE INDEX outbox_pending ON outbox(id) WHERE dispatched_at IS NULL;

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    topics TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_store ON webhook_endpoints(store_id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    claimed_until INTEGER,
    created_at INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER,
    error TEXT,
    response TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, at);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
