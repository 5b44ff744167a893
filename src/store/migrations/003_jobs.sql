-- Jobs: one row per queued unit of work (a search, or a whole `nas run`
-- pipeline). The row is the source of truth: a job found 'running' when the
-- service starts was interrupted and is resumed. Owned by the jobs module.
CREATE TABLE jobs (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('search', 'run')),
  payload     TEXT NOT NULL,                      -- JSON, validated by the enqueuer
  status      TEXT NOT NULL DEFAULT 'queued'
              CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  attempts    INTEGER NOT NULL DEFAULT 0,         -- times a worker started it
  owner       TEXT,                               -- API key id (NULL: local/admin)
  search_id   TEXT,                               -- the search this job drives
  result      TEXT,                               -- JSON summary on success
  error       TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at  TEXT NOT NULL,
  started_at  TEXT,
  finished_at TEXT,
  updated_at  TEXT NOT NULL
);
CREATE INDEX jobs_status ON jobs (status, created_at);
CREATE INDEX jobs_owner ON jobs (owner, created_at);
CREATE INDEX jobs_search ON jobs (search_id);
