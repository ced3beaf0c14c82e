/**
 * The WebGPU adapter (Dawn for Node, the `webgpu` npm package), without tfjs: which adapter to ask
 * for, asking for it, naming it, and saying what is missing when none comes. Used by the tfjs
 * backend (webgpu-backend.ts) and by workers, which label their metrics with the adapter's name
 * without loading tfjs.
 *
 *   gpu       a real GPU through its Vulkan driver (libvulkan.so.1 and the driver's ICD); the default
 *   software  Dawn's OpenGL ES backend on Mesa's llvmpipe (EGL_PLATFORM=surfaceless, compatibility
 *             feature level): CI and machines without a GPU; asked for explicitly, never a fallback
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type WebGpuAdapterKind = 'gpu' | 'software';
export const webGpuAdapterKinds: readonly WebGpuAdapterKind[] = ['gpu', 'software'];

/** What we know of the adapter we got (GPUAdapterInfo's fields plus how it was reached). */
export interface WebGpuAdapterInfo {
  kind: WebGpuAdapterKind;
  /** the Dawn backend: vulkan | opengles */
  dawnBackend: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** a short, stable name for logs and the `backend` metric label's suffix */
  name: string;
}

/** The subset of navigator.gpu / GPUAdapter we use (the package's types need the DOM lib). */
export interface DawnGpu {
  requestAdapter(options?: Record<string, unknown>): Promise<DawnAdapter | null>;
}
export interface DawnAdapter {
  readonly info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  readonly features: { has(name: string): boolean };
  readonly limits: Record<string, number>;
  requestDevice(descriptor?: Record<string, unknown>): Promise<DawnDevice>;
}
export interface DawnDevice {
  readonly limits: Record<string, number>;
  readonly lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

/** `CIM_WEBGPU_ADAPTER` (set by `--webgpu-adapter`): gpu (default) | software. */
export function webGpuAdapterKind(value: string | undefined): WebGpuAdapterKind {
  if (value === undefined || value === '') return 'gpu';
  if ((webGpuAdapterKinds as readonly string[]).includes(value)) return value as WebGpuAdapterKind;
  throw new WebGpuUnavailableError(`unknown WebGPU adapter "${value}" (CIM_WEBGPU_ADAPTER / --webgpu-adapter): use gpu or software`);
}

/** The `backend` metric label of a process on this adapter: `webgpu:<adapter name>`. */
export function webGpuLabel(info: Pick<WebGpuAdapterInfo, 'name'>): string {
  return `webgpu:${info.name}`;
}

/** A short name: the device (Dawn normalises it, e.g. `nvidia-h200`, `llvmpipe-llvm-15-…`), else vendor and description. */
export function adapterName(info: { vendor: string; device: string; description: string }): string {
  const raw = info.device || [info.vendor, info.description].filter(Boolean).join(' ') || 'unknown';
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return name.slice(0, 64) || 'unknown';
}

let dawn: Promise<{ create: (flags: string[]) => DawnGpu; globals: Record<string, unknown> }> | undefined;

/** The `webgpu` package (ESM-only, a prebuilt dawn.node inside); loaded once. */
export function loadDawn(): Promise<{ create: (flags: string[]) => DawnGpu; globals: Record<string, unknown> }> {
  dawn ??= import('webgpu').then(
    (m) => m as unknown as { create: (flags: string[]) => DawnGpu; globals: Record<string, unknown> },
    (e: Error) => {
      dawn = undefined;
      throw new WebGpuUnavailableError(`the webgpu package (Dawn for Node) does not load: ${e.message}`);
    },
  );
  return dawn;
}

/**
 * Ask Dawn for the adapter of this kind. Throws WebGpuUnavailableError naming what is missing
 * (Vulkan loader, ICD, EGL/Mesa) when there is none.
 */
export async function requestWebGpuAdapter(
  kind: WebGpuAdapterKind,
): Promise<{ gpu: DawnGpu; adapter: DawnAdapter; info: WebGpuAdapterInfo; globals: Record<string, unknown> }> {
  // Mesa reads EGL_PLATFORM when Dawn first opens EGL: set it before create() (Node's env is the C environ)
  if (kind === 'software' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
  const { create, globals } = await loadDawn();
  const dawnBackend = kind === 'software' ? 'opengles' : 'vulkan';
  const gpu = create([`backend=${dawnBackend}`]);
  const adapter =
    kind === 'software'
      ? await gpu.requestAdapter({ featureLevel: 'compatibility' })
      : await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter)
    throw new WebGpuUnavailableError(kind === 'software' ? softwareAdapterMissing(systemProbe()) : gpuAdapterMissing(systemProbe()));
  const i = adapter.info;
  const fields = { vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '', description: i.description ?? '' };
  return { gpu, adapter, globals, info: { kind, dawnBackend, ...fields, name: adapterName(fields) } };
}

/** Probe the adapter and let go of it: its label, for a process that does not load tfjs. */
export async function probeWebGpuAdapter(kind: WebGpuAdapterKind): Promise<WebGpuAdapterInfo> {
  return (await requestWebGpuAdapter(kind)).info;
}

/** What the machine has, for the error messages: file lookups only (no dlopen). */
export interface SystemProbe {
  /** where libvulkan.so.1 is, if anywhere */
  vulkanLoader: string | undefined;
  /** Vulkan ICD manifests found: file and the library it names */
  icds: { file: string; library: string }[];
  /** the directories searched for ICDs */
  icdDirs: string[];
  /** libEGL.so (Dawn opens this exact name), the Mesa EGL vendor file, Mesa's swrast DRI driver */
  egl: string | undefined;
  mesaEglVendor: string | undefined;
  swrastDri: string | undefined;
  /** /dev/nvidiactl exists: an NVIDIA driver is there, so a missing ICD means missing graphics capabilities */
  nvidiaDevice: boolean;
}

const LIB_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
  '/usr/local/lib',
  '/usr/local/nvidia/lib64',
];

function findLibrary(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  try {
    // ld.so.cache lists every library ldconfig knows, paths included, as NUL-terminated strings
    const cache = readFileSync('/etc/ld.so.cache', 'latin1');
    const m = new RegExp(`\\0(/[^\\0]*/${name.replace(/\./g, '\\.')})\\0`).exec(cache);
    if (m) return m[1];
  } catch {
    // no cache
  }
  return undefined;
}

/** The Vulkan loader's ICD search: VK_DRIVER_FILES / VK_ICD_FILENAMES, else the XDG config and data dirs. */
export function icdSearch(env: NodeJS.ProcessEnv): { dirs: string[]; files: string[] } {
  const explicit = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  const files: string[] = [];
  const dirs: string[] = [];
  const addDir = (d: string) => {
    dirs.push(d);
    try {
      for (const f of readdirSync(d).sort()) if (f.endsWith('.json')) files.push(join(d, f));
    } catch {
      // absent
    }
  };
  if (explicit) {
    for (const p of explicit.split(':').filter(Boolean)) {
      if (p.endsWith('.json')) {
        dirs.push(p);
        if (existsSync(p)) files.push(p);
      } else addDir(p);
    }
    return { dirs, files };
  }
  const config = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').filter(Boolean);
  const data = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').filter(Boolean);
  for (const d of [...config, '/etc', ...data]) addDir(join(d, 'vulkan', 'icd.d'));
  if (env.HOME) addDir(join(env.HOME, '.local', 'share', 'vulkan', 'icd.d'));
  return { dirs, files };
}

export function systemProbe(env: NodeJS.ProcessEnv = process.env): SystemProbe {
  const { dirs, files } = icdSearch(env);
  const icds = files.map((file) => {
    let library = '?';
    try {
      library = (JSON.parse(readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } }).ICD?.library_path ?? '?';
    } catch {
      // unreadable manifest
    }
    return { file, library };
  });
  const vendorDirs = (env.__EGL_VENDOR_LIBRARY_DIRS ?? '/etc/glvnd/egl_vendor.d:/usr/share/glvnd/egl_vendor.d').split(':');
  const mesaEglVendor = vendorDirs.map((d) => join(d, '50_mesa.json')).find((f) => existsSync(f));
  const swrastDri = ['/usr/lib/x86_64-linux-gnu/dri', '/usr/lib64/dri', '/usr/lib/dri']
    .map((d) => join(d, 'swrast_dri.so'))
    .find((f) => existsSync(f));
  return {
    vulkanLoader: findLibrary('libvulkan.so.1', env),
    icds,
    icdDirs: dirs,
    egl: findLibrary('libEGL.so', env),
    mesaEglVendor,
    swrastDri,
    nvidiaDevice: existsSync('/dev/nvidiactl'),
  };
}

const SOFTWARE_HINT = 'without a GPU, ask for the software adapter: --webgpu-adapter software (CIM_WEBGPU_ADAPTER=software)';

/** Why Dawn offered no Vulkan adapter, from what the machine has. */
export function gpuAdapterMissing(p: SystemProbe): string {
  const head = 'WebGPU: no GPU adapter';
  if (!p.vulkanLoader)
    return `${head}: the Vulkan loader libvulkan.so.1 is missing (Debian/Ubuntu: apt-get install libvulkan1); ${SOFTWARE_HINT}`;
  if (p.icds.length === 0) {
    const nvidia = p.nvidiaDevice
      ? ' An NVIDIA device is present but its Vulkan ICD (nvidia_icd.json) is not: in a container, ' +
        'NVIDIA_DRIVER_CAPABILITIES must include graphics (e.g. compute,utility,graphics).'
      : " A GPU driver installs one (NVIDIA: nvidia_icd.json; AMD/Intel: Mesa's mesa-vulkan-drivers).";
    return (
      `${head}: the Vulkan loader is at ${p.vulkanLoader} but no Vulkan ICD (driver manifest) is installed ` +
      `in ${p.icdDirs.join(', ')}.${nvidia} ${SOFTWARE_HINT}`
    );
  }
  const software = p.icds.filter((i) => /lvp|lavapipe|swiftshader|swrast/i.test(i.file + i.library));
  const icdList = p.icds.map((i) => `${i.file} (${i.library})`).join(', ');
  const why =
    software.length === p.icds.length
      ? 'only software Vulkan drivers are installed, and Dawn does not offer them as GPU adapters'
      : 'the driver offered no usable device (is the GPU visible to this process? /dev/nvidia*, /dev/dri)';
  return `${head}: Vulkan loader ${p.vulkanLoader}, ICDs ${icdList}: ${why}. ${SOFTWARE_HINT}`;
}

/** Why Dawn's OpenGL ES backend offered no adapter. */
export function softwareAdapterMissing(p: SystemProbe): string {
  const missing: string[] = [];
  if (!p.egl) missing.push('libEGL.so (Debian: libegl-dev; Dawn opens this exact name)');
  if (!p.mesaEglVendor) missing.push("Mesa's EGL vendor 50_mesa.json (libegl-mesa0)");
  if (!p.swrastDri) missing.push("Mesa's llvmpipe driver swrast_dri.so (libgl1-mesa-dri)");
  const what = missing.length
    ? `missing ${missing.join('; ')}`
    : 'EGL and Mesa are installed but gave no OpenGL ES 3.1 context (is EGL_PLATFORM=surfaceless honoured?)';
  return (
    `WebGPU: no software adapter (Dawn's OpenGL ES backend on Mesa llvmpipe): ${what}. Install: apt-get ` +
    `install libegl-dev libegl-mesa0 libgl1-mesa-dri (scripts/ci-webgpu-deps.sh)`
  );
}
