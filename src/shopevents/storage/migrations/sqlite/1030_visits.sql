-- Page visits with their traffic source (docs/events.md, "Where a visit came from"): one row
-- per accepted page-visit event. `source` is direct, internal, search, social, email,
-- campaign or referral; `name` the utm_source, search engine, social network or referring
-- host; `medium`, `campaign` the utm_medium and utm_campaign; `device` desktop, mobile or
-- tablet (browserInfo.device); `info` a compact JSON object of the rest that was sent
-- (utm_term/utm_content, referrer, language, platform, screen, title, categories, keywords,
-- tags), NULL when there is nothing. Rows move with their contact on a merge. First and last
-- touch of purchases and carts are read from these rows by the sources report.
CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    source TEXT NOT NULL,
    name TEXT,
    medium TEXT,
    campaign TEXT,
    device TEXT,
    info TEXT
);
CREATE INDEX visits_contact ON visits(contact_id, at);
CREATE INDEX visits_store_time ON visits(store_id, at);
