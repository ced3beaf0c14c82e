/**
 * `--webgpu-adapter gpu|software`, accepted by every command: taken out of argv before the command
 * parses its own flags and put in CIM_WEBGPU_ADAPTER, which the webgpu backend reads and which
 * `pretrain --ranks N` passes on to its rank processes.
 */
import { webGpuAdapterKinds } from '@cim-forge/cim/webgpu-adapter';
import { UsageError } from './args.ts';

export function takeWebGpuAdapterFlag(argv: string[], env: NodeJS.ProcessEnv): string[] {
  const rest: string[] = [];
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
    env.CIM_WEBGPU_ADAPTER = value;
  }
  return rest;
}
