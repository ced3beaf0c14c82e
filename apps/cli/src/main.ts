/**
 * `cim`: CIM on one machine, no servers. Subcommands are small files in commands/.
 */
import { debugStacks, setWebGpuAdapterFlag, UsageError } from './args.ts';
import { takeWebGpuAdapterFlag } from './webgpu-flag.ts';

const commands: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  pretrain: {
    summary: 'pre-train CIM (crop-and-correlate) on one machine',
    run: async (a) => (await import('./commands/pretrain.ts')).run(a),
  },
  parity: {
    summary: "check our model against golden numbers from the authors' PyTorch code",
    run: async (a) => (await import('./commands/parity.ts')).run(a),
  },
  visualize: {
    summary: 'draw an image, its exemplars, their true regions and the predicted correlation maps',
    run: async (a) => (await import('./commands/visualize.ts')).run(a),
  },
  finetune: {
    summary: 'fine-tune a classifier from a CIM encoder (or from scratch); top-1 every epoch',
    run: async (a) => (await import('./commands/finetune.ts')).run(a),
  },
  probe: {
    summary: 'linear probe: a linear classifier on frozen encoder features, top-1',
    run: async (a) => (await import('./commands/probe.ts')).run(a),
  },
  eval: {
    summary: 'robustness: clean, FGSM and PGD top-1, common corruptions (mCE); one JSON report',
    run: async (a) => (await import('./commands/eval.ts')).run(a),
  },
  sweep: {
    summary: 'a hyper-parameter sweep (grid, random, ASHA) of pre-training or fine-tuning runs, resumable',
    run: async (a) => (await import('./commands/sweep.ts')).run(a),
  },
  presets: { summary: 'list the named configs', run: async (a) => (await import('./commands/presets.ts')).run(a) },
};

export function usage(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    'cim — Correlational Image Modeling (CVPR 2023) in TensorFlow.js',
    '',
    'Usage: npm run cim -- <command> [options]      (or: npx cim <command> …)',
    '',
    'Commands:',
    ...Object.entries(commands).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`),
    '',
    'Start here:  npm run cim -- pretrain --dataset fashion-mnist',
    'Each command has --help. Backend: --backend auto|tensorflow|wasm|cpu|webgpu or CIM_BACKEND (auto tries tfjs-node-gpu, tfjs-node, wasm, cpu).',
    'WebGPU (any command): --webgpu-adapter gpu|software or CIM_WEBGPU_ADAPTER (gpu: a real GPU over ' +
      'Vulkan, the default; software: Mesa llvmpipe, docs/gpu.md).',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { rest: args, adapter } = takeWebGpuAdapterFlag(argv);
  setWebGpuAdapterFlag(adapter);
  const [cmd, ...rest] = args;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return cmd ? 0 : 2;
  }
  const c = commands[cmd];
  if (!c) {
    console.error(`cim: unknown command "${cmd}"\n\n${usage()}`);
    return 2;
  }
  return c.run(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  const err = e as Error;
  if (
    err instanceof UsageError ||
    (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
    (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
  ) {
    console.error(`cim: ${err.message}\n(see --help)`);
    process.exitCode = 2;
  } else {
    console.error(`cim: error: ${err.message}`);
    if (debugStacks()) console.error(err.stack);
    process.exitCode = 1;
  }
}
// tfjs-wasm and worker threads can keep the event loop alive; the command is done.
process.exit(process.exitCode ?? 0);
