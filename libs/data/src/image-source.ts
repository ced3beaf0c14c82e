/**
 * An 8-bit RGB image, row-major, channels last: data[(y * width + x) * 3 + c].
 * Structurally the same as `RgbImage` in @cim-forge/cim, so either can be passed where the other
 * is expected without libs/data depending on the maths lib.
 */
export interface RgbImage {
  width: number;
  height: number;
  /** [H, W, 3] uint8 */
  data: Uint8Array;
}

/** A random-access data set of RGB images, optionally labelled (for fine-tuning and eval). */
export interface ImageSource {
  /** human-readable, e.g. "fashion-mnist/train" or "image-folder:/data/imagenet/train" */
  name: string;
  /** number of images; valid indices are 0..size-1 */
  size: number;
  get(index: number): Promise<RgbImage> | RgbImage;
  /** class index in 0..numClasses-1 */
  label?(index: number): number;
  numClasses?: number;
  /** classNames[label] */
  classNames?: string[];
}

/** Throws a RangeError unless `index` is an integer in [0, size). */
export function checkIndex(source: { name: string; size: number }, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= source.size) {
    throw new RangeError(`${source.name}: index ${index} out of range [0, ${source.size})`);
  }
}

/** Replicates a single-channel uint8 image into RGB. */
export function grayToRgb(gray: Uint8Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < gray.length; i++, j += 3) {
    const v = gray[i];
    data[j] = v;
    data[j + 1] = v;
    data[j + 2] = v;
  }
  return { width, height, data };
}
