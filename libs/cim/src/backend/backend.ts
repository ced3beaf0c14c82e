/**
 * Pick the tfjs backend once at process start: `tensorflow` (tfjs-node-gpu, then tfjs-node) when
 * it loads, else `wasm`, else the pure-JS `cpu`. The native packages are optional: they cannot be
 * installed everywhere (their install step downloads libtensorflow).
 */
import * as tf from '@tensorflow/tfjs-core';
import { webGpuLabel, type WebGpuAdapterKind } from './webgpu-adapter.ts';
import { initWebGpuBackend } from './webgpu-backend.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu' | 'webgpu';
export type BackendChoice = BackendName | 'auto';

let chosen: { name: BackendName; detail: string } | undefined;

async function tryImport(spec: string): Promise<boolean> {
  try {
    await import(spec);
    return true;
  } catch {
    return false;
  }
}

async function tryNative(): Promise<string | undefined> {
  // libtensorflow logs its CPU features and XLA service at INFO on load; keep warnings and errors
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    if ((await tryImport(pkg)) && tf.findBackend('tensorflow')) {
      if (await tf.setBackend('tensorflow')) return pkg;
    }
  }
  return undefined;
}

async function tryWasm(): Promise<boolean> {
  if (!(await tryImport('@tensorflow/tfjs-backend-wasm'))) return false;
  try {
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

async function tryCpu(): Promise<boolean> {
  await import('@tensorflow/tfjs-backend-cpu');
  return tf.setBackend('cpu');
}

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'];

export interface BackendOptions {
  /**
   * Intra-op threads of the native backend (libtensorflow's own pool; default: all cores). Set it
   * below the core count when several rank processes share one machine. It takes effect only when
   * given before the native library loads, and `TF_NUM_INTRAOP_THREADS` in the environment wins.
   * wasm runs one thread per process whatever this says.
   */
  threads?: number;
  /** with `webgpu`: a real GPU over Vulkan (default) or Mesa's software rasteriser (the app's --webgpu-adapter / CIM_WEBGPU_ADAPTER) */
  webgpuAdapter?: WebGpuAdapterKind;
}

/** TensorFlow's intra-op threads as its own variable says (set by initBackend's `threads`, or by the user); undefined = all cores */
export function nativeThreads(): number | undefined {
  const v = process.env.TF_NUM_INTRAOP_THREADS;
  return v ? Number(v) : undefined;
}

/** Initialise the backend (idempotent). `choice` comes from `--backend` or `CIM_BACKEND`. */
export async function initBackend(
  choice: BackendChoice = 'auto',
  log: (msg: string) => void = () => {},
  opts: BackendOptions = {},
): Promise<{ name: BackendName; detail: string }> {
  if (chosen) return chosen;
  if (!BACKEND_CHOICES.includes(choice)) throw new Error(`backend "${choice}" is not one of ${BACKEND_CHOICES.join(', ')}`);
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new Error(`threads must be a positive integer, got ${opts.threads}`);
    // eager ops run one at a time, so a second inter-op pool thread per process buys nothing
    process.env.TF_NUM_INTRAOP_THREADS ??= String(opts.threads);
    process.env.TF_NUM_INTEROP_THREADS ??= '1';
  }
  let name: BackendName | undefined;
  let detail = '';
  // WebGPU only when asked (webgpu-backend.ts: errors that name what is missing)
  if (choice === 'webgpu')
    [name, detail] = [
      'webgpu',
      `@tensorflow/tfjs-backend-webgpu on ${webGpuLabel(await initWebGpuBackend(opts.webgpuAdapter ?? 'gpu', log))}`,
    ];
  if (choice === 'auto' || choice === 'tensorflow') {
    const pkg = await tryNative();
    if (pkg) [name, detail] = ['tensorflow', pkg];
    else if (choice === 'tensorflow') {
      throw new Error(
        'backend "tensorflow" requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node ' +
          'loads (on a development machine run `npm run setup:native`; see README, "The native backend")',
      );
    }
  }
  if (!name && (choice === 'auto' || choice === 'wasm')) {
    if (await tryWasm()) [name, detail] = ['wasm', '@tensorflow/tfjs-backend-wasm'];
    else if (choice === 'wasm') throw new Error('backend "wasm" requested but @tensorflow/tfjs-backend-wasm does not load');
  }
  if (!name) {
    if (!(await tryCpu())) throw new Error('no tfjs backend could be initialised');
    [name, detail] = ['cpu', '@tensorflow/tfjs-backend-cpu'];
  }
  await tf.ready();
  if (name === 'tensorflow' && nativeThreads() !== undefined) detail += `, ${nativeThreads()} intra-op threads`;
  chosen = { name, detail };
  log(`tfjs backend: ${name} (${detail})`);
  return chosen;
}

export function currentBackend(): BackendName | undefined {
  return chosen?.name;
}
