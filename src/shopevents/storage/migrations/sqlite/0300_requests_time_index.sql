-- Nothing reads requests by time (the debugger pages by id, which grows with time), so the
-- (store_id, received_at) index only cost every request one more index entry.
DROP INDEX IF EXISTS requests_store_time;
