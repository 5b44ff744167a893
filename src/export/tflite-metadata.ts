// Standard TFLite model metadata (the "TFLITE_METADATA" entry that the TFLite
// Task Library, the Android Studio ML binding and the codegen tools read).
//
// The entry's buffer is a `ModelMetadata` flatbuffer (file identifier "M001")
// as laid out by tflite-support's metadata_schema.fbs (schema 1.x). Only the
// tables an image classifier needs are written and read here; the field slots
// below follow the official schema's declaration order (a union takes two
// slots: its type byte, then its value):
//
//   ModelMetadata:   name 0, description 1, version 2, subgraph_metadata 3,
//                    author 4, license 5, associated_files 6, min_parser_version 7
//   SubGraphMetadata: name 0, description 1, input_tensor_metadata 2,
//                    output_tensor_metadata 3, associated_files 4, ...
//   TensorMetadata:  name 0, description 1, dimension_names 2, content 3,
//                    process_units 4, stats 5, associated_files 6
//   Content:         content_properties (type 0, value 1), range 2
//   ImageProperties: color_space 0 (UNKNOWN 0, RGB 1, GRAYSCALE 2), default_size 1
//   ImageSize:       width 0, height 1
//   ProcessUnit:     options (type 0, value 1)
//   NormalizationOptions: mean 0, std 1
//   Stats:           max 0, min 1
//   AssociatedFile:  name 0, description 1, type 2 (TENSOR_AXIS_LABELS = 2), locale 3
//
// Union tags: ContentProperties FeatureProperties 1, ImageProperties 2;
// ProcessUnitOptions NormalizationOptions 1.

import * as flatbuffers from 'flatbuffers';

export const TFLITE_METADATA_NAME = 'TFLITE_METADATA';
export const METADATA_FILE_IDENTIFIER = 'M001';
/** Lowest metadata parser that understands every field written here. */
export const METADATA_MIN_PARSER_VERSION = '1.0.0';

export const ColorSpace = { UNKNOWN: 0, RGB: 1, GRAYSCALE: 2 } as const;
export const AssociatedFileType = { UNKNOWN: 0, DESCRIPTIONS: 1, TENSOR_AXIS_LABELS: 2, TENSOR_VALUE_LABELS: 3 } as const;
const CONTENT_FEATURE = 1;
const CONTENT_IMAGE = 2;
const PROCESS_NORMALIZATION = 1;

export interface AssociatedFileMeta {
  name: string;
  description?: string;
  type: number;
  locale?: string;
}

export interface TensorMeta {
  name: string;
  description?: string;
  /** image content (input) or feature content (output) */
  content?: { kind: 'image'; colorSpace: number; width: number; height: number } | { kind: 'feature' };
  normalization?: { mean: number[]; std: number[] };
  stats?: { min: number[]; max: number[] };
  associatedFiles?: AssociatedFileMeta[];
}

export interface ModelMeta {
  name: string;
  description?: string;
  version?: string;
  author?: string;
  license?: string;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  minParserVersion?: string;
}

// ---------------------------------------------------------------- writing

function str(b: flatbuffers.Builder, s: string | undefined): number {
  return s === undefined ? 0 : b.createString(s);
}

function offsetVector(b: flatbuffers.Builder, items: number[]): number {
  b.startVector(4, items.length, 4);
  for (let i = items.length - 1; i >= 0; i--) b.addOffset(items[i]);
  return b.endVector();
}

function floatVector(b: flatbuffers.Builder, values: number[]): number {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addFloat32(values[i]);
  return b.endVector();
}

/** Adds an offset field only when present (0 = absent). */
function addOff(b: flatbuffers.Builder, slot: number, off: number): void {
  if (off !== 0) b.addFieldOffset(slot, off, 0);
}

function writeFile(b: flatbuffers.Builder, f: AssociatedFileMeta): number {
  const name = str(b, f.name);
  const desc = str(b, f.description);
  const locale = str(b, f.locale);
  b.startObject(4);
  addOff(b, 0, name);
  addOff(b, 1, desc);
  b.addFieldInt8(2, f.type, 0);
  addOff(b, 3, locale);
  return b.endObject();
}

function writeContent(b: flatbuffers.Builder, c: NonNullable<TensorMeta['content']>): number {
  let props: number;
  let tag: number;
  if (c.kind === 'image') {
    b.startObject(2);
    b.addFieldInt32(0, c.width, 0);
    b.addFieldInt32(1, c.height, 0);
    const size = b.endObject();
    b.startObject(2);
    b.addFieldInt8(0, c.colorSpace, 0);
    addOff(b, 1, size);
    props = b.endObject();
    tag = CONTENT_IMAGE;
  } else {
    b.startObject(0);
    props = b.endObject();
    tag = CONTENT_FEATURE;
  }
  b.startObject(3);
  b.addFieldInt8(0, tag, 0);
  addOff(b, 1, props);
  return b.endObject();
}

function writeTensor(b: flatbuffers.Builder, t: TensorMeta): number {
  const name = str(b, t.name);
  const desc = str(b, t.description);
  const content = t.content ? writeContent(b, t.content) : 0;
  let units = 0;
  if (t.normalization) {
    const mean = floatVector(b, t.normalization.mean);
    const std = floatVector(b, t.normalization.std);
    b.startObject(2);
    addOff(b, 0, mean);
    addOff(b, 1, std);
    const norm = b.endObject();
    b.startObject(2);
    b.addFieldInt8(0, PROCESS_NORMALIZATION, 0);
    addOff(b, 1, norm);
    units = offsetVector(b, [b.endObject()]);
  }
  let stats = 0;
  if (t.stats) {
    const max = floatVector(b, t.stats.max);
    const min = floatVector(b, t.stats.min);
    b.startObject(2);
    addOff(b, 0, max);
    addOff(b, 1, min);
    stats = b.endObject();
  }
  const files = t.associatedFiles?.length ? offsetVector(b, t.associatedFiles.map((f) => writeFile(b, f))) : 0;
  b.startObject(7);
  addOff(b, 0, name);
  addOff(b, 1, desc);
  addOff(b, 3, content);
  addOff(b, 4, units);
  addOff(b, 5, stats);
  addOff(b, 6, files);
  return b.endObject();
}

/** Serializes a ModelMetadata flatbuffer with file identifier "M001". */
export function buildModelMetadata(m: ModelMeta): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  const inputs = offsetVector(b, m.inputs.map((t) => writeTensor(b, t)));
  const outputs = offsetVector(b, m.outputs.map((t) => writeTensor(b, t)));
  b.startObject(7);
  addOff(b, 2, inputs);
  addOff(b, 3, outputs);
  const subgraph = b.endObject();
  const subgraphs = offsetVector(b, [subgraph]);
  const name = str(b, m.name);
  const desc = str(b, m.description);
  const version = str(b, m.version);
  const author = str(b, m.author);
  const license = str(b, m.license);
  const parser = str(b, m.minParserVersion ?? METADATA_MIN_PARSER_VERSION);
  b.startObject(8);
  addOff(b, 0, name);
  addOff(b, 1, desc);
  addOff(b, 2, version);
  addOff(b, 3, subgraphs);
  addOff(b, 4, author);
  addOff(b, 5, license);
  addOff(b, 7, parser);
  b.finish(b.endObject(), METADATA_FILE_IDENTIFIER);
  return b.asUint8Array().slice();
}

// ---------------------------------------------------------------- reading

/** A table position in a ByteBuffer with slot accessors. */
class Table {
  constructor(readonly bb: flatbuffers.ByteBuffer, readonly pos: number) {}
  private field(slot: number): number {
    return this.bb.__offset(this.pos, 4 + 2 * slot);
  }
  has(slot: number): boolean {
    return this.field(slot) !== 0;
  }
  string(slot: number): string | undefined {
    const o = this.field(slot);
    return o ? (this.bb.__string(this.pos + o) as string) : undefined;
  }
  int8(slot: number): number {
    const o = this.field(slot);
    return o ? this.bb.readInt8(this.pos + o) : 0;
  }
  uint32(slot: number): number {
    const o = this.field(slot);
    return o ? this.bb.readUint32(this.pos + o) : 0;
  }
  table(slot: number): Table | undefined {
    const o = this.field(slot);
    return o ? new Table(this.bb, this.bb.__indirect(this.pos + o)) : undefined;
  }
  tables(slot: number): Table[] {
    const o = this.field(slot);
    if (!o) return [];
    const start = this.bb.__vector(this.pos + o);
    return Array.from({ length: this.bb.__vector_len(this.pos + o) }, (_, i) => new Table(this.bb, this.bb.__indirect(start + 4 * i)));
  }
  floats(slot: number): number[] | undefined {
    const o = this.field(slot);
    if (!o) return undefined;
    const start = this.bb.__vector(this.pos + o);
    return Array.from({ length: this.bb.__vector_len(this.pos + o) }, (_, i) => this.bb.readFloat32(start + 4 * i));
  }
}

function readFile(t: Table): AssociatedFileMeta {
  return { name: t.string(0) ?? '', description: t.string(1), type: t.int8(2), locale: t.string(3) };
}

function readTensor(t: Table): TensorMeta {
  const out: TensorMeta = { name: t.string(0) ?? '', description: t.string(1) };
  const content = t.table(3);
  if (content) {
    const tag = content.int8(0);
    const props = content.table(1);
    if (tag === CONTENT_IMAGE && props) {
      const size = props.table(1);
      out.content = { kind: 'image', colorSpace: props.int8(0), width: size?.uint32(0) ?? 0, height: size?.uint32(1) ?? 0 };
    } else if (tag === CONTENT_FEATURE) {
      out.content = { kind: 'feature' };
    }
  }
  for (const unit of t.tables(4)) {
    const opts = unit.table(1);
    if (unit.int8(0) === PROCESS_NORMALIZATION && opts) out.normalization = { mean: opts.floats(0) ?? [], std: opts.floats(1) ?? [] };
  }
  const stats = t.table(5);
  if (stats) out.stats = { max: stats.floats(0) ?? [], min: stats.floats(1) ?? [] };
  const files = t.tables(6).map(readFile);
  if (files.length) out.associatedFiles = files;
  return out;
}

/** Parses a ModelMetadata flatbuffer (the TFLITE_METADATA buffer) back into plain objects. */
export function readModelMetadata(buf: Uint8Array): ModelMeta {
  const bb = new flatbuffers.ByteBuffer(buf);
  if (buf.length < 8 || bb.__has_identifier(METADATA_FILE_IDENTIFIER) === false) {
    throw new Error(`not a TFLite ModelMetadata flatbuffer (identifier ${METADATA_FILE_IDENTIFIER} missing)`);
  }
  const root = new Table(bb, bb.readInt32(bb.position()) + bb.position());
  const sg = root.tables(3)[0];
  return {
    name: root.string(0) ?? '', description: root.string(1), version: root.string(2),
    author: root.string(4), license: root.string(5), minParserVersion: root.string(7),
    inputs: sg ? sg.tables(2).map(readTensor) : [],
    outputs: sg ? sg.tables(3).map(readTensor) : [],
  };
}
