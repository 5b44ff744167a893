-- 004_models.sql (run / refinement engineer): models produced by `nas run`
-- (search -> scale or NetAdapt to the target -> final training -> export ->
-- measure), their stage checkpoints (for resume after a crash) and their
-- files (artifacts with sha256, table from 001).
-- A model row exists from the start of a run ('queued' when created for a job
-- runner, 'running' while any stage is in progress); the card is written when
-- the run finishes.

CREATE TABLE models (
  id           TEXT PRIMARY KEY,                  -- mdl_<hex>
  owner        TEXT NULL,                         -- API key id (NULL: local CLI)
  search_id    TEXT NULL,                         -- the search the base architecture came from (NULL: given base arch)
  arch_id      TEXT NULL,                         -- of the final spec (NULL until refinement picked one)
  spec         TEXT NULL CHECK (spec IS NULL OR json_valid(spec)),       -- canonical ArchSpec JSON
  options      TEXT NOT NULL CHECK (json_valid(options)),                -- the run's options (dataset, device, target, mode...)
  card         TEXT NULL CHECK (card IS NULL OR json_valid(card)),       -- model card JSON (when done)
  status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  stage        TEXT NOT NULL,                     -- last stage entered (RunStage)
  error        TEXT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  finished_at  TEXT NULL
);
CREATE INDEX models_owner ON models (owner, created_at);
CREATE INDEX models_search ON models (search_id);
CREATE INDEX models_status ON models (status);

-- One row per completed stage: what the next stage starts from.
CREATE TABLE model_checkpoints (
  model_id             TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  seq                  INTEGER NOT NULL,
  stage                TEXT NOT NULL,             -- the stage that completed
  spec                 TEXT NOT NULL CHECK (json_valid(spec)),
  input_json           TEXT NOT NULL CHECK (json_valid(input_json)),   -- input shape (resolution scaling changes it)
  weights_artifact_id  TEXT NULL REFERENCES artifacts (id),
  detail               TEXT NOT NULL CHECK (json_valid(detail)),       -- stage result (latency, accuracy, steps...)
  created_at           TEXT NOT NULL,
  PRIMARY KEY (model_id, seq)
);

-- Exported files of a model (tflite, tflite-int8, tfjs, card), each an artifact.
CREATE TABLE model_files (
  model_id     TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  format       TEXT NOT NULL,
  name         TEXT NOT NULL,
  artifact_id  TEXT NOT NULL REFERENCES artifacts (id),
  PRIMARY KEY (model_id, format, name)
);
