/**
 * Test helpers for libs using @cim-forge/cim: the backend every test process runs on, and the
 * golden parity fixture (fixtures/README.md), which lives in the repository.
 */
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendChoice, type BackendName } from '../backend/backend.ts';

/** The authors' PyTorch numbers for a tiny CIM ViT (fixtures/README.md). */
export const PARITY_FIXTURE = fileURLToPath(new URL('../../../../fixtures/cim-parity-small.safetensors', import.meta.url));

/**
 * The backend tests run on: `CIM_TEST_BACKEND` (`tensorflow`, the default, or `wasm`/`cpu`).
 * `npm test` runs every test on `tensorflow` and the core engine tests again on `wasm`.
 */
export function testBackendChoice(): BackendChoice {
  const v = process.env.CIM_TEST_BACKEND ?? 'tensorflow';
  if (!['tensorflow', 'wasm', 'cpu'].includes(v)) throw new Error(`CIM_TEST_BACKEND must be tensorflow, wasm or cpu, not "${v}"`);
  return v as BackendChoice;
}

export async function initTestBackend(): Promise<BackendName> {
  return (await initBackend(testBackendChoice())).name;
}
