-- Custom event types of a store: a server-side custom event (posted to the ingest URL with
-- ?eventId=, or to /api/custom-events/...) is mapped through one of them. `contact_email` is
-- the JSON pointer of the contact's e-mail in the body; `payload` is a JSON object of
-- field -> JSON pointer, or NULL to keep the whole body as the payload.
CREATE TABLE custom_event_types (
  store_id TEXT NOT NULL REFERENCES stores(id),
  id TEXT NOT NULL,
  alias TEXT NOT NULL,
  contact_email TEXT NOT NULL,
  payload TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (store_id, id)
);
CREATE UNIQUE INDEX custom_event_types_alias ON custom_event_types(store_id, alias);
