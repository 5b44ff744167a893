// Uploaded datasets: one row per accepted archive, owned by the API key that
// uploaded it. The images live under dataPaths().datasets/<id>/images.

import type { Db } from './db.ts';

export interface DatasetRecord {
  id: string;
  ownerKeyId: string;
  name: string;
  /** absolute path of the extracted class folders */
  path: string;
  sha256: string;
  sizeBytes: number;
  classes: { name: string; images: number }[];
  images: number;
  /** class/file of images that do not decode */
  corrupt: string[];
  createdAt: string;
}

interface Row {
  id: string; owner_key_id: string; name: string; path: string; sha256: string; size_bytes: number;
  classes_json: string; images: number; corrupt_json: string; created_at: string;
}

const toRecord = (r: Row): DatasetRecord => ({
  id: r.id, ownerKeyId: r.owner_key_id, name: r.name, path: r.path, sha256: r.sha256, sizeBytes: r.size_bytes,
  classes: JSON.parse(r.classes_json) as DatasetRecord['classes'], images: r.images, corrupt: JSON.parse(r.corrupt_json) as string[], createdAt: r.created_at,
});

export function insertDataset(db: Db, d: DatasetRecord): void {
  db.prepare(`INSERT INTO datasets (id, owner_key_id, name, path, sha256, size_bytes, classes_json, images, corrupt_json, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(d.id, d.ownerKeyId, d.name, d.path, d.sha256, d.sizeBytes, JSON.stringify(d.classes), d.images, JSON.stringify(d.corrupt), d.createdAt);
}

export function getDataset(db: Db, id: string): DatasetRecord | null {
  const r = db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as Row | undefined;
  return r ? toRecord(r) : null;
}

export function listDatasets(db: Db, ownerKeyId: string): DatasetRecord[] {
  return (db.prepare('SELECT * FROM datasets WHERE owner_key_id = ? ORDER BY created_at DESC, id').all(ownerKeyId) as Row[]).map(toRecord);
}
