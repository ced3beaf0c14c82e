/**
 * Prints the WebGPU adapter of this kind (gpu | software) as one JSON line, with the label a worker
 * would put on its metrics; exits 1 with the message that names what is missing when there is none.
 *
 *   node --import tsx scripts/gpu/probe-adapter.ts gpu
 */
import { probeWebGpuAdapter, systemProbe, webGpuAdapterKind, webGpuLabel } from '@cim-forge/cim/config';

try {
  const info = await probeWebGpuAdapter(webGpuAdapterKind(process.argv[2]));
  console.log(JSON.stringify({ ...info, label: webGpuLabel(info), system: systemProbe() }));
  process.exit(0);
} catch (e) {
  console.error((e as Error).message);
  console.log(JSON.stringify({ error: (e as Error).message, system: systemProbe() }));
  process.exit(1);
}
