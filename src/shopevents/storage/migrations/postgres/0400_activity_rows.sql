-- One row per contact and instant: `items` is a JSON array of [type, eventId, data], the
-- activities of that contact at that instant in the order they happened (a page visit with
-- a three-line cart is one row instead of five). Each existing activity becomes a row of
-- one item.
ALTER TABLE activities ADD COLUMN items TEXT;
UPDATE activities SET items = json_build_array(json_build_array(type, event_id, data::json))::text;
ALTER TABLE activities ALTER COLUMN items SET NOT NULL;
ALTER TABLE activities DROP COLUMN type, DROP COLUMN event_id, DROP COLUMN data;
