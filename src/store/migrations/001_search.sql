-- 001: searches, their trials, strategy checkpoints, artifacts.
-- Timestamps are ISO-8601 UTC text. JSON columns hold validated JSON
-- (repositories in src/store/*.ts parse and check them at the edge).

CREATE TABLE searches (
  id             TEXT PRIMARY KEY,
  -- the API key that owns it (keys table: 002); NULL for CLI searches
  owner          TEXT NULL,
  status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  -- dataset, deviceId, latencyTargetMs, mode, w, strategy, budgets, seed, proxy recipe
  options        TEXT NOT NULL CHECK (json_valid(options)),
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  finished_at    TEXT NULL,
  error          TEXT NULL,
  best_trial_id  TEXT NULL,
  -- wall time spent running, summed over runs (resume continues the wall-time budget)
  elapsed_ms     REAL NOT NULL DEFAULT 0,
  -- "<host>:<pid>" of the process running it (NULL when not running): a live runner refuses a second one
  runner         TEXT NULL
);
CREATE INDEX searches_status ON searches (status);
CREATE INDEX searches_owner ON searches (owner);

CREATE TABLE trials (
  id            TEXT PRIMARY KEY,
  search_id     TEXT NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL,
  arch_id       TEXT NOT NULL,
  spec          TEXT NOT NULL CHECK (json_valid(spec)),
  decisions     TEXT NOT NULL CHECK (json_valid(decisions)),
  proposal_id   TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cached')),
  accuracy      REAL NULL,
  latency_ms    REAL NOT NULL,
  coverage      REAL NOT NULL,
  reward        REAL NULL,
  macs          INTEGER NOT NULL,
  params        INTEGER NOT NULL,
  wall_ms       REAL NULL,
  error         TEXT NULL,
  reason        TEXT NULL,
  -- the trial whose result a 'cached' trial reuses
  cached_from   TEXT NULL,
  -- per-epoch validation accuracies (JSON array) for early-stop shaping and plots
  epochs        TEXT NULL CHECK (epochs IS NULL OR json_valid(epochs)),
  started_at    TEXT NULL,
  finished_at   TEXT NULL,
  UNIQUE (search_id, proposal_id),
  UNIQUE (search_id, seq)
);
CREATE INDEX trials_search_arch ON trials (search_id, arch_id);
CREATE INDEX trials_search_status ON trials (search_id, status);

CREATE TABLE strategy_checkpoints (
  search_id   TEXT NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
  seq         INTEGER NOT NULL,
  state       TEXT NOT NULL CHECK (json_valid(state)),
  -- the strategy's stats() at that point (reward curve per update)
  stats       TEXT NOT NULL CHECK (json_valid(stats)),
  created_at  TEXT NOT NULL,
  PRIMARY KEY (search_id, seq)
);

CREATE TABLE artifacts (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL,
  -- relative to the data directory
  path        TEXT NOT NULL,
  sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
  size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
  created_at  TEXT NOT NULL
);
