-- Nothing reads events by (store, time) through this index any more: report rollups read the
-- rows past their watermark by id, the export pages by id, and repeated purchases have their
-- own partial index. It cost every event one more index entry (twenty per batch20 request).
DROP INDEX IF EXISTS events_store_time;
