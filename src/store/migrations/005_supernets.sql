-- 005_supernets.sql: weight-shared supernets (src/supernet), one row per
-- training run, reused by searches per (dataset, skeleton, input); the
-- checkpoint (master weights + optimizer state) is an artifact, replaced as
-- training goes on, so a killed run resumes from its last checkpoint.
-- Trials record which evaluator scored them. Jobs gain the 'supernet' kind
-- (SQLite cannot alter a CHECK: the table is rebuilt with its rows).

CREATE TABLE supernets (
  id                      TEXT PRIMARY KEY,          -- sn_<hex>
  owner                   TEXT NULL,                 -- API key id (NULL: local CLI)
  dataset                 TEXT NOT NULL,             -- dataset reference (fashion-mnist, dataset:<id>, folder:...)
  skeleton                TEXT NOT NULL,
  input_json              TEXT NOT NULL CHECK (json_valid(input_json)),
  num_classes             INTEGER NOT NULL,
  options                 TEXT NOT NULL CHECK (json_valid(options)),   -- recipe, seed, time budget
  status                  TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  step                    INTEGER NOT NULL DEFAULT 0,                  -- steps done (as of the checkpoint)
  total_steps             INTEGER NULL,                                -- fixed once throughput is known
  checkpoint_artifact_id  TEXT NULL REFERENCES artifacts (id),
  metrics                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
  error                   TEXT NULL,
  created_at              TEXT NOT NULL,
  updated_at              TEXT NOT NULL,
  finished_at             TEXT NULL
);
CREATE INDEX supernets_key ON supernets (dataset, skeleton, status, finished_at);
CREATE INDEX supernets_owner ON supernets (owner, created_at);

ALTER TABLE trials ADD COLUMN evaluator TEXT NOT NULL DEFAULT 'proxy';

CREATE TABLE jobs_new (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('search', 'run', 'supernet')),
  payload     TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'queued'
              CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  owner       TEXT,
  search_id   TEXT,                               -- the search (or supernet) this job drives
  result      TEXT,
  error       TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at  TEXT NOT NULL,
  started_at  TEXT,
  finished_at TEXT,
  updated_at  TEXT NOT NULL
);
INSERT INTO jobs_new SELECT id, kind, payload, status, attempts, owner, search_id, result, error, cancel_requested,
  created_at, started_at, finished_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_status ON jobs (status, created_at);
CREATE INDEX jobs_owner ON jobs (owner, created_at);
CREATE INDEX jobs_search ON jobs (search_id);
