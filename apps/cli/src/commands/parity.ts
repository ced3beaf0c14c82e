import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { parityTolerances, runParity } from '@cim-forge/cim';
import { initCliBackend, UsageError } from '../args.ts';

const help = `Usage: npm run cim -- parity --fixture FILE.safetensors [--backend auto|wasm|cpu|tensorflow|webgpu] [--webgpu-adapter gpu|software]

Checks our TensorFlow.js CIM against golden numbers from the authors' PyTorch code: imports the
fixture's weights (PyTorch names and layout; model config from its metadata), runs the forward
pass, the backward pass, one AdamW step and one target-encoder momentum update, and prints one JSON
line with the largest error of each group:
  logits, loss      absolute error            (tolerance ${parityTolerances.logits})
  grads, after_step error / tensor's max |x|  (tolerance ${parityTolerances.grads})
and "ok". Exit code 0 exactly when every group is within tolerance, 1 otherwise.
The authors' fixture ships in the repository: --fixture fixtures/cim-parity-small.safetensors
(its layout: fixtures/README.md).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { fixture: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  if (!values.fixture) throw new UsageError('parity needs --fixture FILE.safetensors');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(values.fixture));
  } catch (e) {
    throw new UsageError(`cannot read fixture ${values.fixture}: ${(e as Error).message}`);
  }
  await initCliBackend(values.backend, (m) => console.error(m));
  const report = await runParity(bytes, values.fixture);
  console.log(JSON.stringify(report));
  return report.ok ? 0 : 1;
}
