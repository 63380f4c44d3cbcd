-- One row per write transaction of the group committer on PostgreSQL (pruned after 15
-- minutes): when a connection breaks after COMMIT was sent, the writer looks its batch's
-- mark up to learn whether the batch was committed. The readiness check writes and deletes
-- one to learn whether the database takes writes.
CREATE TABLE commit_marks (
  at BIGINT NOT NULL,
  token TEXT NOT NULL,
  PRIMARY KEY (at, token)
);
