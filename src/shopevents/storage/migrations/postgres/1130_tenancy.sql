-- Tenancy (docs/dashboard.md#accounts-and-roles): a dashboard account sees only the stores
-- it has a grant on, with a role: viewer (reads), admin (reads, settings and actions), owner
-- (also grants and revokes accounts on the store).
CREATE TABLE store_grants (
    user_id BIGINT NOT NULL,
    store_id TEXT NOT NULL,
    role TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, store_id)
);
CREATE INDEX store_grants_store ON store_grants(store_id);
-- Existing installs keep working: every existing account becomes owner of every existing
-- store (operators narrow it afterwards with `shopevents users grant/revoke`).
INSERT INTO store_grants (user_id, store_id, role, granted_at)
SELECT users.id, stores.id, 'owner', users.created_at FROM users CROSS JOIN stores;

-- Server-side dashboard sessions: the cookie holds only a random token (signed); the row is
-- keyed by the token's SHA-256, so the table never holds a usable cookie. Logging out,
-- revoking a session, a password change or a revoked grant deletes rows.
CREATE TABLE dashboard_sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    store_id TEXT,
    flash TEXT
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions(user_id);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions(expires_at);
