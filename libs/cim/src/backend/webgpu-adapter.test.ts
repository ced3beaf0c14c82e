import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  adapterName,
  gpuAdapterMissing,
  icdSearch,
  probeWebGpuAdapter,
  requestWebGpuAdapter,
  softwareAdapterMissing,
  systemProbe,
  webGpuAdapterKind,
  webGpuLabel,
  type SystemProbe,
} from './webgpu-adapter.ts';

test('CIM_WEBGPU_ADAPTER: gpu by default, software when asked, anything else refused by name', () => {
  assert.equal(webGpuAdapterKind(undefined), 'gpu');
  assert.equal(webGpuAdapterKind(''), 'gpu');
  assert.equal(webGpuAdapterKind('software'), 'software');
  assert.throws(() => webGpuAdapterKind('cuda'), /unknown WebGPU adapter "cuda" .*use gpu or software/);
});

test("adapter names are short label values: Dawn's device name, else vendor and description", () => {
  assert.equal(
    adapterName({ vendor: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL ES 3.2 Mesa 22.3.6' }),
    'llvmpipe-llvm-15-0-6-256-bits',
  );
  assert.equal(adapterName({ vendor: 'nvidia', device: 'NVIDIA H200', description: '' }), 'nvidia-h200');
  assert.equal(adapterName({ vendor: 'nvidia', device: '', description: 'NVIDIA: 550.54.15' }), 'nvidia-nvidia-550.54.15');
  assert.equal(adapterName({ vendor: '', device: '', description: '' }), 'unknown');
  assert.equal(adapterName({ vendor: '', device: 'x'.repeat(100), description: '' }).length, 64);
  assert.equal(webGpuLabel({ name: 'nvidia-h200' }), 'webgpu:nvidia-h200');
});

const base: SystemProbe = {
  vulkanLoader: '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  icds: [],
  icdDirs: ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d'],
  egl: '/usr/lib/x86_64-linux-gnu/libEGL.so',
  mesaEglVendor: '/usr/share/glvnd/egl_vendor.d/50_mesa.json',
  swrastDri: '/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so',
  nvidiaDevice: false,
};

test('no GPU adapter: the error names what is missing, loader first, then the ICD, then the driver', () => {
  const noLoader = gpuAdapterMissing({ ...base, vulkanLoader: undefined });
  assert.match(noLoader, /Vulkan loader libvulkan\.so\.1 is missing \(Debian\/Ubuntu: apt-get install libvulkan1\)/);
  assert.match(noLoader, /--webgpu-adapter software \(CIM_WEBGPU_ADAPTER=software\)/);
  const noIcd = gpuAdapterMissing(base);
  assert.match(noIcd, /no Vulkan ICD \(driver manifest\) is installed in \/etc\/vulkan\/icd\.d, \/usr\/share\/vulkan\/icd\.d/);
  assert.doesNotMatch(noIcd, /NVIDIA_DRIVER_CAPABILITIES/);
  // an NVIDIA device without its ICD: a container started without the graphics capability
  assert.match(gpuAdapterMissing({ ...base, nvidiaDevice: true }), /NVIDIA_DRIVER_CAPABILITIES must include graphics/);
  const lavapipe = gpuAdapterMissing({
    ...base,
    icds: [{ file: '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', library: 'libvulkan_lvp.so' }],
  });
  assert.match(lavapipe, /only software Vulkan drivers are installed, and Dawn does not offer them as GPU adapters/);
  const nvidia = gpuAdapterMissing({ ...base, icds: [{ file: '/etc/vulkan/icd.d/nvidia_icd.json', library: 'libGLX_nvidia.so.0' }] });
  assert.match(nvidia, /ICDs \/etc\/vulkan\/icd\.d\/nvidia_icd\.json \(libGLX_nvidia\.so\.0\): the driver offered no usable device/);
});

test('no software adapter: the error lists the missing EGL/Mesa pieces and the apt line', () => {
  const m = softwareAdapterMissing({ ...base, egl: undefined, swrastDri: undefined });
  assert.match(
    m,
    /missing libEGL\.so \(Debian: libegl-dev; Dawn opens this exact name\); Mesa's llvmpipe driver swrast_dri\.so \(libgl1-mesa-dri\)/,
  );
  assert.doesNotMatch(m, /50_mesa/);
  assert.match(m, /apt-get install libegl-dev libegl-mesa0 libgl1-mesa-dri/);
});

test('ICD search follows VK_DRIVER_FILES (files or directories) and the XDG directories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cim-icd-'));
  mkdirSync(join(dir, 'vulkan', 'icd.d'), { recursive: true });
  writeFileSync(join(dir, 'vulkan', 'icd.d', 'nvidia_icd.json'), JSON.stringify({ ICD: { library_path: 'libGLX_nvidia.so.0' } }));
  writeFileSync(join(dir, 'vulkan', 'icd.d', 'notes.txt'), 'not a manifest');
  assert.deepEqual(icdSearch({ VK_DRIVER_FILES: join(dir, 'vulkan', 'icd.d') }).files, [join(dir, 'vulkan', 'icd.d', 'nvidia_icd.json')]);
  assert.deepEqual(icdSearch({ VK_ICD_FILENAMES: join(dir, 'vulkan', 'icd.d', 'nvidia_icd.json') }).files, [
    join(dir, 'vulkan', 'icd.d', 'nvidia_icd.json'),
  ]);
  const xdg = icdSearch({ XDG_DATA_DIRS: dir, XDG_CONFIG_DIRS: join(dir, 'none') });
  assert.deepEqual(xdg.files, [join(dir, 'vulkan', 'icd.d', 'nvidia_icd.json')]);
  assert.ok(xdg.dirs.includes('/etc/vulkan/icd.d'));
  const p = systemProbe({ VK_DRIVER_FILES: join(dir, 'vulkan', 'icd.d') });
  assert.deepEqual(p.icds, [{ file: join(dir, 'vulkan', 'icd.d', 'nvidia_icd.json'), library: 'libGLX_nvidia.so.0' }]);
});

test('this machine: the software adapter is llvmpipe; the GPU adapter is there or its absence is explained', async () => {
  const soft = await probeWebGpuAdapter('software');
  assert.equal(soft.dawnBackend, 'opengles');
  assert.match(soft.name, /^llvmpipe/);
  const probe = systemProbe();
  const gpu = await requestWebGpuAdapter('gpu').then(
    (a) => a.info,
    (e: Error) => e,
  );
  if (gpu instanceof Error) {
    assert.equal(gpu.name, 'WebGpuUnavailableError');
    assert.equal(gpu.message, gpuAdapterMissing(probe));
    if (!probe.vulkanLoader) assert.match(gpu.message, /libvulkan1/);
  } else {
    assert.equal(gpu.dawnBackend, 'vulkan');
    assert.ok(probe.vulkanLoader, 'a Vulkan adapter implies a Vulkan loader');
  }
});
