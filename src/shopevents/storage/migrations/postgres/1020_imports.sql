-- Bulk imports of products and contacts. `imports` is one row per file (its report);
-- `import_journal` holds, while a file is being written chunk by chunk, what each chunk
-- changed and how it was before (`before_row` NULL: the chunk created the row), so that a file
-- that cannot be written whole is undone. A finished import's journal is deleted.
CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT,
    row_count BIGINT NOT NULL DEFAULT 0,
    records BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX imports_store ON imports(store_id, started_at);
CREATE INDEX imports_writing ON imports(heartbeat_at) WHERE status = 'writing';

CREATE TABLE import_journal (
    import_id TEXT NOT NULL,
    chunk BIGINT NOT NULL,
    row_key TEXT NOT NULL,
    written_at BIGINT NOT NULL,
    before_row TEXT
);
CREATE INDEX import_journal_chunk ON import_journal(import_id, chunk);
