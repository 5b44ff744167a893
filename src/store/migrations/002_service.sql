-- 002_service.sql (HTTP-service engineer): API keys, devices, latency-table
-- versions, uploaded datasets.

-- API keys: bearer tokens stored as sha256 hex of the token, never the token.
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,                 -- key_<hex>
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  token_sha256  TEXT NOT NULL UNIQUE,
  created_at    TEXT NOT NULL,
  revoked_at    TEXT
);

-- Devices: the shipped ones (builtin = 1, seeded from device-profiles/) and
-- those registered by an admin. current_version points into table_versions
-- (NULL: no table yet). upload_token_sha256: the per-device upload token.
-- The current table (and a registered device's profile) is also written to
-- the data directory, where searches and the CLI read tables;
-- materialized_sha256 is the sha256 of the table file last written there (a
-- file that differs was written by someone else, e.g. `nas profile`, and is
-- imported as a new 'local' version before anything replaces it).
CREATE TABLE devices (
  id                   TEXT PRIMARY KEY,
  profile_json         TEXT NOT NULL,
  builtin              INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
  upload_token_sha256  TEXT UNIQUE,
  current_version      INTEGER,
  materialized_sha256  TEXT,
  created_by           TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
  created_at           TEXT NOT NULL
);

-- Latency-table versions of a device. Version 1 of a built-in device is its
-- shipped file (table_json NULL: read from the package, never overwritten);
-- every accepted upload adds the next version ('upload'), a table found in
-- the data directory that the service did not write is added too ('local');
-- restoring moves
-- devices.current_version, nothing is deleted.
CREATE TABLE table_versions (
  device_id    TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  version      INTEGER NOT NULL CHECK (version >= 1),
  source       TEXT NOT NULL CHECK (source IN ('shipped', 'upload', 'local')),
  table_json   TEXT,
  entries      INTEGER NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (device_id, version),
  CHECK ((source = 'shipped') = (table_json IS NULL))
);

-- Uploaded image-folder datasets (a zip of class folders), owned by a key.
CREATE TABLE datasets (
  id            TEXT PRIMARY KEY,                 -- ds_<hex>
  owner_key_id  TEXT NOT NULL REFERENCES api_keys(id),
  name          TEXT NOT NULL,
  path          TEXT NOT NULL,                    -- extracted folder under the data dir
  sha256        TEXT NOT NULL,                    -- of the uploaded archive
  size_bytes    INTEGER NOT NULL,
  classes_json  TEXT NOT NULL,                    -- [{name, images}]
  images        INTEGER NOT NULL,
  corrupt_json  TEXT NOT NULL,                    -- [relative path, ...]
  created_at    TEXT NOT NULL
);
CREATE INDEX datasets_owner ON datasets(owner_key_id, created_at);
