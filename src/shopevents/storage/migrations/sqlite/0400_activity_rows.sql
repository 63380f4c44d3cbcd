-- One row per contact and instant: `items` is a JSON array of [type, eventId, data], the
-- activities of that contact at that instant in the order they happened (a page visit with
-- a three-line cart is one row instead of five). Each existing activity becomes a row of
-- one item.
CREATE TABLE activities_rows (
    id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    items TEXT NOT NULL
);
INSERT INTO activities_rows (id, store_id, contact_id, at, items)
SELECT id, store_id, contact_id, at, json_array(json_array(type, event_id, json(data)))
FROM activities;
DROP TABLE activities;
ALTER TABLE activities_rows RENAME TO activities;
CREATE INDEX activities_contact ON activities(contact_id, at, id);
