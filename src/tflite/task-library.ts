// The TFLite Task Library's ImageClassifier, as shipped (compiled to WASM)
// by @tensorflow/tfjs-tflite, driven from Node. It reads a model's standard
// TFLite metadata (input normalization, image properties, label file packed
// in the model) exactly as the Android Task Library does, so it serves as an
// independent check of what the exporter writes.
//
// Images are passed as RGBA pixels through a canvas-like object (the client
// reads `getContext('2d').getImageData(...)`); no DOM is needed.

import { loadTfliteWeb, TfliteRuntimeError } from './interpreter.ts';

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes, row-major RGBA */
  data: Uint8ClampedArray;
}

export interface TaskClass {
  index: number;
  /** class name from the model's label file ('' when the model has none) */
  className: string;
  displayName: string;
  score: number;
}

interface ProtoClass {
  getIndex(): number;
  getClassName(): string;
  getDisplayName(): string;
  getScore(): number;
}

interface NativeClassifier {
  classify(input: unknown): { getClassificationsList(): { getClassesList(): ProtoClass[] }[] } | undefined;
  cleanUp(): void;
}

interface ClassifierOptionsProto {
  setMaxResults(v: number): void;
  setNumThreads(v: number): void;
}

interface TaskWeb {
  ImageClassifierOptions: new () => ClassifierOptionsProto;
  ImageClassifier: { create(model: ArrayBuffer, options: ClassifierOptionsProto): Promise<NativeClassifier> };
}

export interface TaskImageClassifier {
  /** all classes, best first */
  classify(image: RgbaImage): TaskClass[];
  dispose(): void;
}

/** Creates a Task Library ImageClassifier from .tflite bytes; rejects what the Task Library rejects. */
export async function createTaskImageClassifier(model: Uint8Array): Promise<TaskImageClassifier> {
  const web = (await loadTfliteWeb()) as TaskWeb;
  const opts = new web.ImageClassifierOptions();
  opts.setNumThreads(1);
  opts.setMaxResults(-1);
  let native: NativeClassifier;
  try {
    native = await web.ImageClassifier.create(model.slice().buffer, opts);
  } catch (e) {
    throw new TfliteRuntimeError(`Task Library ImageClassifier rejected the model: ${(e as Error).message ?? String(e)}`);
  }
  let disposed = false;
  return {
    classify(image) {
      if (disposed) throw new TfliteRuntimeError('classifier was disposed');
      if (image.data.length !== image.width * image.height * 4) {
        throw new TfliteRuntimeError(`RGBA image ${image.width}x${image.height} needs ${image.width * image.height * 4} bytes, got ${image.data.length}`);
      }
      const canvas = { width: image.width, height: image.height, getContext: () => ({ getImageData: () => ({ data: image.data }) }) };
      const result = native.classify(canvas);
      const list = result?.getClassificationsList() ?? [];
      if (list.length === 0) return [];
      return list[0].getClassesList().map((c) => ({ index: c.getIndex(), className: c.getClassName(), displayName: c.getDisplayName(), score: c.getScore() }));
    },
    dispose() {
      if (!disposed) {
        disposed = true;
        native.cleanUp();
      }
    },
  };
}
