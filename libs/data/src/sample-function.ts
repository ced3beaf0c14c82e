import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ImageSource, RgbImage } from './image-source.ts';

/** What the loader knows about one sample besides its pixels. */
export interface SampleInfo {
  /** index into the source */
  index: number;
  /** position in the epoch's global permutation (unique across ranks) */
  position: number;
  epoch: number;
  label?: number;
}

/**
 * Turns one image into one training sample (e.g. CIM's crop-and-correlate). Must be a pure
 * function of its arguments: all randomness from `seed`, which the loader derives from
 * (run seed, epoch, position), so the result does not depend on which thread ran it. Typed arrays
 * in the result are moved, not copied, between threads when they own their whole buffer.
 */
export type SampleFunction = (image: RgbImage, options: unknown, seed: number, info: SampleInfo) => unknown | Promise<unknown>;

/** One unit of work: which image, and the seed it must be sampled with. */
export interface SampleTask {
  index: number;
  position: number;
  seed: number;
}

/** Imports `exportName` from an absolute module path (or file: URL) and checks it is a function. */
export async function loadSampleFunction(modulePath: string, exportName: string): Promise<SampleFunction> {
  let url: string;
  if (modulePath.startsWith('file:')) url = modulePath;
  else if (isAbsolute(modulePath)) url = pathToFileURL(modulePath).href;
  else throw new Error(`sampleModule must be an absolute path or file: URL, got ${modulePath}`);
  const mod = (await import(url)) as Record<string, unknown>;
  const fn = mod[exportName];
  if (typeof fn !== 'function') {
    throw new Error(`sampleModule ${modulePath} has no exported function ${exportName} (got ${typeof fn})`);
  }
  return fn as SampleFunction;
}

/** Runs the sample function over tasks in order; an error names the sample it failed on. */
export async function runSampleTasks(
  source: ImageSource,
  fn: SampleFunction,
  options: unknown,
  epoch: number,
  tasks: readonly SampleTask[],
): Promise<unknown[]> {
  const out: unknown[] = new Array(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    const { index, position, seed } = tasks[i];
    try {
      const image = await source.get(index);
      const label = source.label?.(index);
      out[i] = await fn(image, options, seed, { index, position, epoch, label });
    } catch (err) {
      const e = err as Error;
      throw new Error(`${source.name}: sample ${index} (epoch ${epoch}, position ${position}) failed: ${e.message}`, {
        cause: err,
      });
    }
  }
  return out;
}

/**
 * ArrayBuffers in `value` (searched through arrays and plain objects) that can be moved to another
 * thread: owned wholly by one view, so no unrelated data (e.g. Node's Buffer pool) goes with them.
 */
export function transferablesOf(value: unknown, out = new Set<ArrayBuffer>(), depth = 0): ArrayBuffer[] {
  if (depth > 8 || value === null || typeof value !== 'object') return [...out];
  if (value instanceof ArrayBuffer) {
    out.add(value);
  } else if (ArrayBuffer.isView(value)) {
    const buf = value.buffer;
    if (buf instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buf.byteLength) out.add(buf);
  } else if (Array.isArray(value)) {
    for (const v of value) transferablesOf(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) transferablesOf(v, out, depth + 1);
  }
  return [...out];
}
