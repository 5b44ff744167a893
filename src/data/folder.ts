// Image-folder dataset: <root>/<class>/<image>.{jpg,jpeg,png,webp}. Classes
// are the sub-folder names in sorted order; other files in the root are
// ignored. Images are decoded with sharp to uint8 (channels 3 = sRGB with
// alpha dropped, channels 1 = greyscale).
//
// Sizes, explicitly: with `size` given, every image is resized to size x size
// (sharp fit "cover": scale, then centre-crop). Without it all images must
// share one size, which the dataset keeps; mixed sizes are an error that
// lists them. Corrupt or undecodable files are an error listing them, unless
// `skipCorrupt` is set: then they are skipped and recorded in the manifest.
// Only JPEG, PNG and WebP content is decoded, and only after its header shows
// it within IMAGE_LIMITS (a few-KB PNG can claim 12000x12000 pixels): larger
// ones count as unreadable, never decoded.
// Split: per class, seeded, 15% test, 15% validation, the rest train.

import { readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { extname, join, resolve } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { newManifest } from './cache.ts';
import { applyOrder, stratifiedSplit } from './split.ts';
import { type Dataset, DatasetError } from './types.ts';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
/** The formats decoded, whatever the file's extension says (sharp also reads SVG, TIFF, GIF...: not here). */
export const IMAGE_FORMATS = ['jpeg', 'png', 'webp'];
/** The largest image decoded: pixels a side, and in all (64 megapixels, 192 MB decoded as RGB: a 48-50 MP phone photo passes; the 144 MP bomb of issue 20 does not). */
export const IMAGE_LIMITS = { maxSide: 16384, maxPixels: 64 * 1024 * 1024 };

/** Why an image is not decoded: its content is another format, or its header claims too many pixels. */
export interface ImageRefusal {
  reason: 'format' | 'too-large';
  message: string;
}

/**
 * Why an image must not be decoded, read from its header alone (no pixels
 * decoded), or null when it may be. Throws when the header is unreadable.
 */
export async function undecodableImage(file: string): Promise<ImageRefusal | null> {
  const m = await sharp(file, { limitInputPixels: false }).metadata();
  if (!m.format || !IMAGE_FORMATS.includes(m.format)) return { reason: 'format', message: `is ${m.format ?? 'unknown'} content, not ${IMAGE_FORMATS.join('/')}` };
  const w = m.width ?? 0;
  const h = m.pageHeight ?? m.height ?? 0;
  if (w > IMAGE_LIMITS.maxSide || h > IMAGE_LIMITS.maxSide || w * h > IMAGE_LIMITS.maxPixels) {
    return { reason: 'too-large', message: `is ${w}x${h} pixels; images are decoded up to ${IMAGE_LIMITS.maxSide} pixels a side and ${IMAGE_LIMITS.maxPixels} pixels in all (downscale it)` };
  }
  return null;
}

/** sharp on an image that passed undecodableImage: the pixel limit holds again at decode time. */
export function openImage(file: string, failOn: 'warning' | 'truncated'): Sharp {
  return sharp(file, { failOn, limitInputPixels: IMAGE_LIMITS.maxPixels });
}

export const FOLDER_SPLIT = { test: 0.15, validation: 0.15 };
export const FOLDER_SPLIT_SEED = 20261122;
const MAX_LISTED = 10;

export interface FolderOptions {
  /** resize every image to size x size (required when sizes differ) */
  size?: number;
  /** 3 (RGB, default) or 1 (greyscale) */
  channels?: 1 | 3;
  /** skip (and record) undecodable files instead of failing */
  skipCorrupt?: boolean;
  /** whether horizontal flips keep the label (default true) */
  allowFlip?: boolean;
}

export interface FolderListing {
  root: string;
  classes: string[];
  /** files per class, sorted, absolute paths */
  files: string[][];
  /** content key: hash of paths, byte sizes, mtimes and options */
  key: string;
}

function list(msgs: string[]): string {
  return msgs.slice(0, MAX_LISTED).join(', ') + (msgs.length > MAX_LISTED ? ` and ${msgs.length - MAX_LISTED} more` : '');
}

function readDir(dir: string): import('node:fs').Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new DatasetError(`cannot read image folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function listFolder(path: string, opts: FolderOptions = {}): FolderListing {
  const root = resolve(path);
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new DatasetError(`image folder ${root} does not exist`, 404);
  }
  if (!st.isDirectory()) throw new DatasetError(`${root} is not a folder (expected one sub-folder per class)`);
  const classes = readDir(root).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
  if (classes.length === 0) throw new DatasetError(`image folder ${root} has no class sub-folders (expected <root>/<class>/<image>.jpg|png)`);
  if (classes.length < 2) throw new DatasetError(`image folder ${root} has one class (${classes[0]}); a classifier needs at least 2`);
  if (classes.length > 255) throw new DatasetError(`image folder ${root} has ${classes.length} classes; at most 255 are supported`);
  const hash = createHash('sha256').update(JSON.stringify({ root, size: opts.size, channels: opts.channels ?? 3, skip: !!opts.skipCorrupt }));
  const files = classes.map((c) => {
    const dir = join(root, c);
    return readDir(dir)
      .filter((d) => d.isFile() && IMAGE_EXTENSIONS.includes(extname(d.name).toLowerCase()))
      .map((d) => join(dir, d.name))
      .sort();
  });
  const empty = classes.filter((_, i) => files[i].length === 0);
  if (empty.length > 0) {
    throw new DatasetError(`class folder(s) without images (${IMAGE_EXTENSIONS.join(' ')}) in ${root}: ${list(empty)}`);
  }
  for (const f of files.flat()) {
    const s = statSync(f);
    hash.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return { root, classes, files, key: `folder-${hash.digest('hex').slice(0, 16)}` };
}

interface Decoded { file: string; label: number; data?: Buffer; width?: number; height?: number; error?: string }

async function decode(file: string, label: number, opts: FolderOptions): Promise<Decoded> {
  try {
    const why = await undecodableImage(file);
    if (why) return { file, label, error: why.message };
    let img = openImage(file, 'warning');
    if (opts.size) img = img.resize(opts.size, opts.size, { fit: 'cover' });
    img = (opts.channels ?? 3) === 1 ? img.greyscale() : img.removeAlpha().toColourspace('srgb');
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    const want = opts.channels ?? 3;
    if (info.channels !== want) return { file, label, error: `decoded to ${info.channels} channels, expected ${want}` };
    return { file, label, data, width: info.width, height: info.height };
  } catch (e) {
    return { file, label, error: (e as Error).message.split('\n')[0] };
  }
}

export async function buildFolderDataset(listing: FolderListing, opts: FolderOptions = {}): Promise<Dataset> {
  if (opts.size !== undefined && !(Number.isInteger(opts.size) && opts.size >= 4 && opts.size <= 1024)) {
    throw new DatasetError(`image size must be an integer in [4, 1024], got ${opts.size}`);
  }
  const jobs = listing.files.flatMap((fs, label) => fs.map((f) => ({ f, label })));
  const decoded: Decoded[] = [];
  const parallel = 8;
  for (let i = 0; i < jobs.length; i += parallel) {
    decoded.push(...(await Promise.all(jobs.slice(i, i + parallel).map((j) => decode(j.f, j.label, opts)))));
  }
  const bad = decoded.filter((d) => d.error);
  const rel = (f: string) => f.slice(listing.root.length + 1);
  if (bad.length > 0 && !opts.skipCorrupt) {
    throw new DatasetError(`${bad.length} unreadable image(s) in ${listing.root}: ${list(bad.map((b) => `${rel(b.file)} (${b.error})`))}; pass skipCorrupt (--skip-corrupt) to skip them`);
  }
  const good = decoded.filter((d) => !d.error);
  const sizes = [...new Set(good.map((d) => `${d.width}x${d.height}`))];
  if (sizes.length > 1) {
    throw new DatasetError(`images in ${listing.root} have mixed sizes (${list(sizes)}); give a target size (--resolution) to resize them all`);
  }
  const emptied = listing.classes.filter((_, c) => !good.some((d) => d.label === c));
  if (emptied.length > 0) throw new DatasetError(`class(es) with no readable images in ${listing.root}: ${list(emptied)}`);
  const [width, height] = sizes[0].split('x').map(Number);
  const channels = opts.channels ?? 3;
  const px = width * height * channels;
  const images = new Uint8Array(good.length * px);
  const labels = new Uint8Array(good.length);
  good.forEach((d, i) => {
    images.set(d.data!, i * px);
    labels[i] = d.label;
  });
  const plan = stratifiedSplit(labels, listing.classes.length, FOLDER_SPLIT, FOLDER_SPLIT_SEED);
  const ordered = applyOrder(images, labels, px, plan.order);
  return {
    manifest: newManifest({
      name: `folder:${listing.root}`, source: `image folder ${listing.root}`, classes: listing.classes,
      height, width, channels, count: good.length, splits: plan.splits, splitSeed: FOLDER_SPLIT_SEED,
      allowFlip: opts.allowFlip ?? true, skipped: bad.map((b) => rel(b.file)),
    }),
    images: ordered.images,
    labels: ordered.labels,
  };
}
