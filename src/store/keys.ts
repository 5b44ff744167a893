// API keys: random 32-byte bearer tokens ("nas_" + base64url), stored only as
// their sha256. An admin key manages devices and keys; it is created on the
// first start (token printed once) or taken from $NAS_ADMIN_KEY.

import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.ts';

export type KeyRole = 'admin' | 'user';

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: KeyRole;
  createdAt: string;
  revokedAt: string | null;
}

interface Row { id: string; name: string; role: KeyRole; created_at: string; revoked_at: string | null }

const toRecord = (r: Row): ApiKeyRecord => ({ id: r.id, name: r.name, role: r.role, createdAt: r.created_at, revokedAt: r.revoked_at });

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');
export const newToken = (prefix = 'nas_'): string => prefix + randomBytes(32).toString('base64url');
export const newId = (prefix: string): string => prefix + randomBytes(8).toString('hex');

/** Create a key; the token is returned once and never stored. */
export function createKey(db: Db, name: string, role: KeyRole, token: string = newToken()): { key: ApiKeyRecord; token: string } {
  const id = newId('key_');
  const createdAt = new Date().toISOString();
  db.prepare('INSERT INTO api_keys (id, name, role, token_sha256, created_at) VALUES (?, ?, ?, ?, ?)').run(id, name, role, sha256Hex(token), createdAt);
  return { key: { id, name, role, createdAt, revokedAt: null }, token };
}

/** The live (not revoked) key a token belongs to, or null. */
export function findKeyByToken(db: Db, token: string): ApiKeyRecord | null {
  const r = db.prepare('SELECT * FROM api_keys WHERE token_sha256 = ? AND revoked_at IS NULL').get(sha256Hex(token)) as Row | undefined;
  return r ? toRecord(r) : null;
}

export function getKey(db: Db, id: string): ApiKeyRecord | null {
  const r = db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined;
  return r ? toRecord(r) : null;
}

export function listKeys(db: Db): ApiKeyRecord[] {
  return (db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as Row[]).map(toRecord);
}

/** Revoke (the row stays: resources keep their owner). Returns false for an unknown id. */
export function revokeKey(db: Db, id: string): boolean {
  const r = db.prepare('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?').run(new Date().toISOString(), id);
  return r.changes > 0;
}

/**
 * Make sure an admin key exists. With `envToken` ($NAS_ADMIN_KEY) that token
 * is an admin key (added if its hash is unknown). Otherwise, when no live
 * admin key exists, one is created and its token returned (to print once).
 */
export function ensureAdminKey(db: Db, envToken?: string): { created: boolean; token?: string; key: ApiKeyRecord } {
  if (envToken !== undefined && envToken !== '') {
    if (envToken.length < 16) throw Object.assign(new Error('NAS_ADMIN_KEY must be at least 16 characters'), { status: 400 });
    const found = findKeyByToken(db, envToken);
    if (found) {
      if (found.role !== 'admin') throw Object.assign(new Error('NAS_ADMIN_KEY is the token of a non-admin key'), { status: 409 });
      return { created: false, key: found };
    }
    return { created: true, key: createKey(db, 'admin (NAS_ADMIN_KEY)', 'admin', envToken).key };
  }
  const r = db.prepare("SELECT * FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL ORDER BY created_at LIMIT 1").get() as Row | undefined;
  if (r) return { created: false, key: toRecord(r) };
  const { key, token } = createKey(db, 'admin', 'admin');
  return { created: true, token, key };
}
