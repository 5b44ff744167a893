// A minimal ZIP writer/reader for uncompressed ("stored") entries, used to
// pack a .tflite model's associated files (labels.txt) the way the TFLite
// metadata tools do: the archive is appended after the flatbuffer, so the
// file stays a valid model (flatbuffer offsets never reach the tail) and is
// also a valid ZIP. Offsets in the archive are absolute from the start of
// the whole file. The Task Library's metadata extractor expects the entries
// uncompressed, so no deflate here.

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;

let crcTable: Uint32Array | undefined;

export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Returns `prefix` followed by a ZIP archive holding `entries` uncompressed. */
export function appendStoredZip(prefix: Uint8Array, entries: ZipEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const names = entries.map((e) => enc.encode(e.name));
  const localSize = entries.reduce((s, e, i) => s + 30 + names[i].length + e.data.length, 0);
  const centralSize = names.reduce((s, n) => s + 46 + n.length, 0);
  const out = new Uint8Array(prefix.length + localSize + centralSize + 22);
  const dv = new DataView(out.buffer);
  out.set(prefix, 0);
  let p = prefix.length;
  const offsets: number[] = [];
  const crcs = entries.map((e) => crc32(e.data));
  entries.forEach((e, i) => {
    offsets.push(p);
    dv.setUint32(p, LOCAL_SIG, true);
    dv.setUint16(p + 4, 10, true); // version needed: 1.0 (stored)
    dv.setUint16(p + 6, 0, true); // flags
    dv.setUint16(p + 8, 0, true); // method: stored
    dv.setUint16(p + 10, 0, true); // time
    dv.setUint16(p + 12, DOS_DATE_1980_01_01, true);
    dv.setUint32(p + 14, crcs[i], true);
    dv.setUint32(p + 18, e.data.length, true);
    dv.setUint32(p + 22, e.data.length, true);
    dv.setUint16(p + 26, names[i].length, true);
    dv.setUint16(p + 28, 0, true);
    out.set(names[i], p + 30);
    out.set(e.data, p + 30 + names[i].length);
    p += 30 + names[i].length + e.data.length;
  });
  const centralStart = p;
  entries.forEach((e, i) => {
    dv.setUint32(p, CENTRAL_SIG, true);
    dv.setUint16(p + 4, 20, true); // made by: 2.0
    dv.setUint16(p + 6, 10, true);
    dv.setUint16(p + 8, 0, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, 0, true);
    dv.setUint16(p + 14, DOS_DATE_1980_01_01, true);
    dv.setUint32(p + 16, crcs[i], true);
    dv.setUint32(p + 20, e.data.length, true);
    dv.setUint32(p + 24, e.data.length, true);
    dv.setUint16(p + 28, names[i].length, true);
    // extra length, comment length, disk, internal/external attributes: 0
    dv.setUint32(p + 42, offsets[i], true);
    out.set(names[i], p + 46);
    p += 46 + names[i].length;
  });
  dv.setUint32(p, END_SIG, true);
  dv.setUint16(p + 8, entries.length, true);
  dv.setUint16(p + 10, entries.length, true);
  dv.setUint32(p + 12, p - centralStart, true);
  dv.setUint32(p + 16, centralStart, true);
  return out;
}

/** Reads the stored entries of a ZIP archive at the end of `buf` (empty when there is none). */
export function readStoredZip(buf: Uint8Array): ZipEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = -1;
  for (let p = buf.length - 22; p >= Math.max(0, buf.length - 22 - 0xffff); p--) {
    if (dv.getUint32(p, true) === END_SIG) {
      end = p;
      break;
    }
  }
  if (end < 0) return [];
  const count = dv.getUint16(end + 10, true);
  const cdSize = dv.getUint32(end + 12, true);
  const cdOffset = dv.getUint32(end + 16, true);
  // Archives written with offsets relative to the archive start: shift by what precedes it.
  const shift = end - (cdOffset + cdSize);
  const dec = new TextDecoder();
  const entries: ZipEntry[] = [];
  let p = cdOffset + shift;
  for (let i = 0; i < count; i++) {
    if (dv.getUint32(p, true) !== CENTRAL_SIG) throw new Error(`bad ZIP central directory entry ${i}`);
    const method = dv.getUint16(p + 10, true);
    const size = dv.getUint32(p + 20, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true) + shift;
    const name = dec.decode(buf.subarray(p + 46, p + 46 + nameLen));
    if (method !== 0) throw new Error(`ZIP entry ${name} is compressed (method ${method}); only stored entries are read`);
    if (dv.getUint32(local, true) !== LOCAL_SIG) throw new Error(`bad ZIP local header for ${name}`);
    const dataStart = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    entries.push({ name, data: buf.subarray(dataStart, dataStart + size) });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
