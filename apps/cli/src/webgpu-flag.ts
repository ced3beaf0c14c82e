/**
 * `--webgpu-adapter gpu|software`, accepted by every command: taken out of argv before the command
 * parses its own flags and handed to the backend as an argument (args.ts `setWebGpuAdapterFlag`);
 * `pretrain --ranks N` passes it on to its rank processes as the same flag.
 */
import { webGpuAdapterKinds, type WebGpuAdapterKind } from '@cim-forge/cim/config';
import { UsageError } from './args.ts';

export function takeWebGpuAdapterFlag(argv: string[]): { rest: string[]; adapter: WebGpuAdapterKind | undefined } {
  const rest: string[] = [];
  let adapter: WebGpuAdapterKind | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let value: string | undefined;
    if (a === '--webgpu-adapter') {
      value = argv[++i];
      if (value === undefined) throw new UsageError('--webgpu-adapter needs a value: gpu or software');
    } else if (a.startsWith('--webgpu-adapter=')) value = a.slice('--webgpu-adapter='.length);
    else {
      rest.push(a);
      continue;
    }
    if (!(webGpuAdapterKinds as readonly string[]).includes(value))
      throw new UsageError(`--webgpu-adapter must be gpu or software, got "${value}"`);
    adapter = value as WebGpuAdapterKind;
  }
  return { rest, adapter };
}
