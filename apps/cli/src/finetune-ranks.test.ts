/**
 * `cim finetune --ranks N` against the real Redis on 127.0.0.1:6379 (the collective's default; the
 * ranks meet there and, sharing one node by default, sum their gradients in shared memory): the
 * ranks end bit-identical, 2 ranks × B/2 train like 1 rank × B (a LayerNorm ViT: BatchNorm's
 * per-rank batch statistics make a ResNet differ by design), a gang resumes exactly, bad --ranks
 * values are refused, and a killed rank stops the gang, named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@cim-forge/cim';
import { testBackendChoice } from '@cim-forge/cim/testing';
import { UsageError } from './args.ts';
import { run } from './commands/finetune.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const env = { ...process.env, CIM_BACKEND: testBackendChoice() };
const vit = ['finetune', '--from', 'scratch', '--model', 'cimVitMicroPatch4', '--dataset', 'fashion-mnist', '--limit', '64'];
const quick = ['--eval-images', '32', '--epochs', '1', '--no-aug', '--checkpoint-every', '0'];

function cim(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env,
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout.trim().split('\n').at(-1)!) };
}

async function tmp(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `cim-ft-${name}-`));
}

/** the newest checkpoint's classifier tensors */
function finalWeights(out: string): Map<string, Float32Array> {
  const dir = join(out, 'checkpoints');
  const id = readdirSync(dir)
    .filter((x) => x.startsWith('step-'))
    .sort()
    .at(-1)!;
  const file = parseSafetensors(new Uint8Array(readFileSync(join(dir, id, 'model.safetensors'))));
  return new Map([...file.tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

/** max |a − b| over every weight, and ‖a − b‖ / ‖a‖ */
function distance(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { maxAbs: number; relative: number } {
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i]));
      num += (x[i] - y[i]) ** 2;
      den += x[i] ** 2;
    }
  }
  return { maxAbs, relative: Math.sqrt(num / den) };
}

test('a ViT (LayerNorm): 2 ranks × 8 end bit-identical and where 1 rank × 16 ends; images/s counts the global batch', async () => {
  const one = await tmp('1rank');
  const two = await tmp('2ranks');
  const a = cim(...vit, ...quick, '--batch-size', '16', '--out', one);
  assert.equal(a.code, 0, a.stderr);
  const b = cim(...vit, ...quick, '--batch-size', '16', '--ranks', '2', '--out', two);
  assert.equal(b.code, 0, b.stderr);
  const s = b.json();
  assert.equal(s.identicalWeights, true, 'both ranks end with the same sha256 of their weights');
  assert.deepEqual(
    s.perRank.map((r: { code: number; steps: number }) => [r.code, r.steps]),
    [
      [0, 4],
      [0, 4],
    ],
  );
  assert.match(b.stderr, /ranks {8}2 × 8 images of each batch of 16, gradients averaged\n/);
  // the same 4 steps of the same global batches: float rounding apart (the sums run in another order;
  // measured 2026-12-07: max |Δw| 1.5e-8, ‖Δw‖/‖w‖ 1.6e-9, the bound 1000× that)
  const d = distance(finalWeights(one), finalWeights(two));
  assert.ok(d.relative < 1e-6 && d.maxAbs < 1e-5, `2 ranks vs 1: ‖Δw‖/‖w‖ ${d.relative}, max |Δw| ${d.maxAbs}`);
  assert.ok(Math.abs(s.lastLoss - a.json().lastLoss) < 1e-5, `last loss ${s.lastLoss} vs ${a.json().lastLoss}`);
  // the held-out scoring split over the ranks counts what one process counts
  assert.equal(s.top1, a.json().top1);
  assert.ok(Math.abs(s.evals[0].loss - a.json().evals[0].loss) < 1e-5);
  // rank 0 alone writes the run's metrics: one row per step and one held-out score; every rank its timings
  const rows = readFileSync(join(two, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(rows.filter((r) => r.images_per_sec !== undefined).length, 4);
  assert.equal(rows.filter((r) => r.eval_top1 !== undefined).length, 1);
  for (const r of [0, 1])
    assert.equal(
      readFileSync(join(two, 'ranks', `rank-${r}.jsonl`), 'utf8')
        .trim()
        .split('\n').length,
      4,
    );
  const ranked = JSON.parse(readFileSync(join(two, 'ranks', 'rank-1.jsonl'), 'utf8').split('\n')[0]);
  assert.ok(ranked.all_reduce_bytes > 4 * 200_000, `rank 1 sent ${ranked.all_reduce_bytes} bytes (every gradient)`);
});

test('a ResNet (BatchNorm) gang ends bit-identical, and 2 + resume 2 steps ends on the straight run’s bits', async () => {
  const resnet = ['finetune', '--from', 'scratch', '--model', 'cimResnetMicro', '--dataset', 'fashion-mnist', '--limit', '64'];
  const straight = await tmp('rn-straight');
  const a = cim(...resnet, ...quick, '--batch-size', '16', '--ranks', '2', '--out', straight);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.json().identicalWeights, true, 'weights and BatchNorm running statistics the same on both ranks');
  assert.match(a.stderr, /BatchNorm on each rank's own images \(DDP's default\), running statistics averaged/);
  const split = await tmp('rn-split');
  const b = cim(...resnet, ...quick, '--batch-size', '16', '--ranks', '2', '--max-steps', '2', '--out', split);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.json().finalStep, 2);
  const c = cim('finetune', '--resume', '--ranks', '2', '--out', split);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.json().identicalWeights, true);
  assert.equal(c.json().finalStep, 4);
  assert.equal(c.json().weightsDigest, a.json().weightsDigest, 'the resumed gang ends on the straight gang’s bits');
});

test('--help teaches --ranks; bad --ranks values are refused with a message (exit 2 from the command line)', async () => {
  const out = await tmp('bad');
  const base = ['--from', 'scratch', '--dataset', 'fashion-mnist', '--limit', '64', '--batch-size', '16', '--out', out];
  for (const [ranks, message] of [
    ['0', /--ranks/],
    ['-2', /--ranks/],
    ['two', /--ranks/],
    ['1.5', /--ranks/],
    ['3', /--ranks 3: the batch of 16 \(--batch-size, the global batch\) does not split evenly over 3 ranks/],
  ] as const)
    await assert.rejects(run([...base, `--ranks=${ranks}`]), (e: Error) => e instanceof UsageError && message.test(e.message), ranks);
  await assert.rejects(run([...base, '--ranks', '2', '--nodes', '3']), /--nodes 3: more nodes than --ranks 2/);
  const help = cim('finetune', '--help');
  assert.match(help.stdout, /--ranks N {13}N rank processes/);
  assert.match(help.stdout, /--batch-size stays the global batch/);
  assert.match(help.stdout, /PyTorch\n\s+DDP's default \(not SyncBatchNorm\)/);
  const r = cim('finetune', ...base, '--ranks', '5');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /does not split evenly over 5 ranks; give a batch size divisible by 5/);
});

test('a fine-tuning rank killed with SIGKILL stops the gang with a message naming it, no hang', async () => {
  const out = await tmp('kill');
  const t0 = Date.now();
  const p = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'apps/cli/src/main.ts',
      ...vit.slice(0, -1),
      '2048',
      '--batch-size',
      '8',
      '--epochs',
      '4',
      '--no-aug',
      '--ranks',
      '2',
      '--collective-timeout',
      '5000',
      '--out',
      out,
    ],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  // wait until rank 1 has taken a step, then kill it
  const rankLog = join(out, 'ranks', 'rank-1.jsonl');
  while (!existsSync(rankLog) || readFileSync(rankLog, 'utf8').length === 0) {
    if (Date.now() - t0 > 240_000) throw new Error(`rank 1 never stepped: ${stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const pids = spawnSync('pgrep', ['-f', '--', `finetune .*--rank 1 --world-size 2 .*--out ${out}`], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean);
  assert.equal(pids.length, 1, `rank 1 process: ${pids}`);
  const killedAt = Date.now();
  process.kill(Number(pids[0]), 'SIGKILL');
  const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  const seconds = (Date.now() - killedAt) / 1000;
  assert.equal(code, 1);
  assert.match(stderr, /rank 1 \(node-0\) was killed \(SIGKILL\): stopping the gang/);
  assert.ok(seconds < 15, `the gang stopped ${seconds} s after the kill`);
});
