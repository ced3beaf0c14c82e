/**
 * The `cim` CLI on the webgpu backend, on Dawn's software adapter (Mesa llvmpipe; CI has no GPU):
 * parity with the authors' PyTorch numbers, a short learning run that follows the wasm run step by
 * step, and exact resume. Each command is its own process (one tfjs backend per process).
 * Sized for CI (~1 minute of CPU on a 2-core machine): llvmpipe runs a step of this tiny model in
 * about a second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = join(root, 'fixtures', 'cim-parity-small.safetensors');

function cim(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CIM_BACKEND: '', CIM_WEBGPU_ADAPTER: '' },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);
const losses = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).loss as number);

test("parity --backend webgpu (software adapter): the authors' numbers within 1e-4, adapter named", () => {
  const r = cim('parity', '--fixture', fixture, '--backend', 'webgpu', '--webgpu-adapter', 'software');
  assert.equal(r.code, 0, r.stderr);
  const report = lastJson(r.stdout);
  assert.equal(report.ok, true);
  for (const k of ['logits', 'loss', 'grads', 'after_step']) assert.ok(report[k] < 1e-4, `${k}: ${report[k]}`);
  assert.match(r.stderr, /WebGPU adapter: llvmpipe\S* \(software, Dawn opengles/);
  assert.match(r.stderr, /tfjs backend: webgpu \(@tensorflow\/tfjs-backend-webgpu on webgpu:llvmpipe/);
});

test('webgpu errors are clear: an unknown adapter is a usage error; a missing GPU names what is missing', () => {
  const bad = cim('parity', '--fixture', fixture, '--backend', 'webgpu', '--webgpu-adapter', 'cuda');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--webgpu-adapter must be gpu or software, got "cuda"/);
  // the default adapter is a real GPU: CI has none, so the command must say why and exit 1
  const gpu = cim('parity', '--fixture', fixture, '--backend', 'webgpu');
  if (gpu.code === 0) {
    assert.equal(lastJson(gpu.stdout).ok, true, 'a GPU host: parity on it');
  } else {
    assert.equal(gpu.code, 1);
    assert.match(
      gpu.stderr,
      /cim: error: WebGPU: no GPU adapter: .*(libvulkan1|Vulkan ICD|driver offered no usable device|software Vulkan drivers)/,
    );
    assert.match(gpu.stderr, /--webgpu-adapter software/);
  }
});

// 16 steps of a 32-d ViT/4 (2 blocks) on 128 synthetic images, batch 8; checkpoints at 8 and 16
const config = {
  modelOverrides: { embedDim: 32, depth: 2, numHeads: 2, decoderEmbedDim: 32, decoderNumHeads: 2 },
  batchSize: 8,
  baseLr: 0.05,
  warmupEpochs: 0.1,
  epochs: 1,
  evalImages: 32,
  workers: 0,
  seed: 0,
  dataset: { kind: 'synthetic', size: 128, imageSize: 48, seed: 3 },
};

test('pretrain on webgpu learns, step for step as on wasm, and resumes exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cim-webgpu-'));
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify(config));
  const run = (out: string, backend: string) =>
    cim(
      'pretrain',
      '--preset',
      'smoke',
      '--config',
      cfg,
      '--checkpoint-every',
      '8',
      '--out',
      join(dir, out),
      '--backend',
      backend,
      '--webgpu-adapter',
      'software',
    );

  const gpu = run('webgpu', 'webgpu');
  assert.equal(gpu.code, 0, gpu.stderr);
  assert.match(gpu.stderr, /backend {6}webgpu \(@tensorflow\/tfjs-backend-webgpu on webgpu:llvmpipe/);
  const wasm = run('wasm', 'wasm');
  assert.equal(wasm.code, 0, wasm.stderr);
  const g = lastJson(gpu.stdout);
  const w = lastJson(wasm.stdout);
  assert.equal(g.steps, 16);

  // learning: the training loss falls by more than half; held-out maps depend on the exemplar
  const report = JSON.stringify({ g, w });
  assert.ok(g.lateLoss < 0.5 * g.earlyLoss, report);
  assert.ok(g.eval.loss < 0.5 * losses(join(dir, 'webgpu'))[0], report);
  assert.ok(g.eval.mismatchedLoss - g.eval.loss > 0.05, report);
  // the same run as on wasm: every step's loss, and the held-out figures, agree to float32 rounding
  const lg = losses(join(dir, 'webgpu'));
  const lw = losses(join(dir, 'wasm'));
  assert.equal(lg.length, 16);
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(lg[i] - lw[i]) <= 1e-3 * lw[i], `step ${i + 1}: webgpu ${lg[i]} vs wasm ${lw[i]}`);
  for (const k of ['loss', 'mismatchedLoss', 'meanIoU'])
    assert.ok(Math.abs(g.eval[k] - w.eval[k]) <= 1e-3 * Math.max(1, w.eval[k]), `eval ${k}: ${g.eval[k]} vs ${w.eval[k]}`);

  // exact resume: the run's step-8 checkpoint, resumed on webgpu for 8 steps, ends where the straight run did
  const resumed = join(dir, 'resumed');
  mkdirSync(join(resumed, 'checkpoints'), { recursive: true });
  copyFileSync(join(dir, 'webgpu', 'config.json'), join(resumed, 'config.json'));
  cpSync(join(dir, 'webgpu', 'checkpoints', 'step-00000008'), join(resumed, 'checkpoints', 'step-00000008'), { recursive: true });
  const r = cim('pretrain', '--out', resumed, '--resume', '--max-steps', '8', '--backend', 'webgpu', '--webgpu-adapter', 'software');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /resuming at 8 from step-00000008/);
  for (const f of ['model.safetensors', 'optimizer.safetensors']) {
    const a = readFileSync(join(dir, 'webgpu', 'checkpoints', 'step-00000016', f));
    const b = readFileSync(join(resumed, 'checkpoints', 'step-00000016', f));
    assert.equal(a.length, b.length, f);
    assert.ok(a.equals(b), `${f}: the resumed run's step-16 weights are not bit-identical to the straight run's`);
  }
  const state = JSON.parse(readFileSync(join(resumed, 'checkpoints', 'step-00000016', 'state.json'), 'utf8'));
  assert.equal(state.step, 16);
});
