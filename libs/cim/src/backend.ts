/**
 * Pick the tfjs backend once at process start: `tensorflow` (tfjs-node-gpu, then tfjs-node) when
 * it loads, else `wasm`, else the pure-JS `cpu`. The native packages are optional: they cannot be
 * installed everywhere (their install step downloads libtensorflow).
 */
import * as tf from '@tensorflow/tfjs-core';
import { webGpuLabel } from './webgpu-adapter.ts';
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

/** Initialise the backend (idempotent). `choice` comes from `--backend` or `CIM_BACKEND`. */
export async function initBackend(choice: BackendChoice = 'auto', log: (msg: string) => void = () => {}): Promise<{ name: BackendName; detail: string }> {
  if (chosen) return chosen;
  let name: BackendName | undefined;
  let detail = '';
  // WebGPU only when asked (webgpu-backend.ts: adapter from CIM_WEBGPU_ADAPTER, errors that name what is missing)
  if (choice === 'webgpu') [name, detail] = ['webgpu', `@tensorflow/tfjs-backend-webgpu on ${webGpuLabel(await initWebGpuBackend(undefined, log))}`];
  if (choice === 'auto' || choice === 'tensorflow') {
    const pkg = await tryNative();
    if (pkg) [name, detail] = ['tensorflow', pkg];
    else if (choice === 'tensorflow') throw new Error('backend "tensorflow" requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node loads');
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
  chosen = { name, detail };
  log(`tfjs backend: ${name} (${detail})`);
  return chosen;
}

export function currentBackend(): BackendName | undefined {
  return chosen?.name;
}
