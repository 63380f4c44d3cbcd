-- Report rollups, maintained from the base tables by the reports package (no write-path
-- changes): rows up to a watermark id are summed here; reports add the rows after it.
-- Day columns are the store-local date as a proleptic ordinal (Python date.toordinal()),
-- month columns the ordinal of the month's first day;
-- slot columns are 15-minute UTC slots (instant in microseconds // 900000000).
-- Empty text ('') stands for "not given" in the key columns.
CREATE TABLE report_watermarks (
    store_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    timezone TEXT NOT NULL,
    last_id BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, kind)
);

CREATE TABLE report_sales_days (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    currency TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source_name TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    recovered_orders BIGINT NOT NULL,
    recovered_revenue BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, currency, source_type, source_name, payment_method)
);

CREATE TABLE report_product_days (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    currency TEXT NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    units BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, currency, product_id)
);

CREATE TABLE report_product_months (
    store_id TEXT NOT NULL,
    month BIGINT NOT NULL,
    currency TEXT NOT NULL,
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    units BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (store_id, month, currency, product_id)
);

CREATE TABLE report_cart_days (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    measure TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, measure)
);

CREATE TABLE report_quality_slots (
    store_id TEXT NOT NULL,
    slot BIGINT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (store_id, slot, kind, code)
);

CREATE TABLE report_quality_days (
    store_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, kind, code)
);

CREATE INDEX quarantine_store_code ON quarantine(store_id, code, id);

-- Repeated purchases (duplicates and conflicts), for the purchase page.
CREATE INDEX events_purchase_repeats ON events(store_id, received_at) WHERE type = 'purchase' AND status IN ('duplicate', 'conflict');
