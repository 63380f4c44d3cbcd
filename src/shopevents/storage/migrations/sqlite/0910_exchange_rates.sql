-- Exchange rates, the server's (shared by its stores): for each day, how many units of a
-- currency one euro buys (the ECB's reference rates), as exact decimal text. Loaded by the
-- operator (shopevents rates load, POST /api/rates); EUR itself is 1 and never stored.
CREATE TABLE exchange_rates (
    day INTEGER NOT NULL,
    currency TEXT NOT NULL,
    rate TEXT NOT NULL,
    loaded_at INTEGER NOT NULL,
    PRIMARY KEY (currency, day)
);

-- The currency a store's reports are in (NULL: the store's currency).
ALTER TABLE stores ADD COLUMN reporting_currency TEXT;

-- Purchases in another currency than the reporting one are converted one by one.
CREATE INDEX purchases_store_currency_time ON purchases(store_id, currency, purchased_at);
