// Runtime types of the dataset layer. A dataset is one contiguous uint8 image
// array (NHWC, images ordered train | validation | test) plus uint8 labels;
// splits are index ranges into it, fixed when the dataset is first built and
// stored in its cache manifest.

export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** Bad dataset input (unknown name, unreadable folder, corrupt images...). */
export class DatasetError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.name = 'DatasetError';
    this.status = status;
  }
}

export interface SplitRange {
  /** index of the first image of the split */
  start: number;
  count: number;
}

export interface DatasetManifest {
  format: 'nas-dataset';
  formatVersion: 1;
  /** e.g. "fashion-mnist", "mnist", "folder:/abs/path", "synthetic" */
  name: string;
  /** human-readable origin (package and version, folder path) */
  source: string;
  classes: string[];
  height: number;
  width: number;
  channels: number;
  count: number;
  splits: Record<SplitName, SplitRange>;
  /** seed of the stratified split */
  splitSeed: number;
  /** whether horizontal flips keep the label (false for digits) */
  allowFlip: boolean;
  /** files skipped as unreadable (image folders with skipCorrupt) */
  skipped: string[];
  /** bytes files next to the manifest */
  files: { images: string; labels: string };
  createdAt: string;
}

export interface Dataset {
  manifest: DatasetManifest;
  /** count * height * width * channels bytes, NHWC */
  images: Uint8Array;
  /** count bytes, class index per image */
  labels: Uint8Array;
}

/** A view on one split: images and labels of that split only (no copies). */
export interface DataSplit {
  name: SplitName;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
}

export function getSplit(ds: Dataset, name: SplitName): DataSplit {
  const m = ds.manifest;
  const r = m.splits[name];
  const px = m.height * m.width * m.channels;
  return {
    name, height: m.height, width: m.width, channels: m.channels, numClasses: m.classes.length, count: r.count,
    images: ds.images.subarray(r.start * px, (r.start + r.count) * px),
    labels: ds.labels.subarray(r.start, r.start + r.count),
  };
}
