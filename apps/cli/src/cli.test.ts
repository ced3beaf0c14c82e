import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARITY_FIXTURE, testBackendChoice } from '@cim-forge/cim/testing';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = PARITY_FIXTURE;

/** The JSON metadata of a safetensors file (its `__metadata__`). */
function parseSafetensorsHeader(bytes: Buffer): Record<string, string> {
  const n = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')).__metadata__;
}

function cim(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CIM_BACKEND: testBackendChoice() },
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("parity on the authors' fixture: every group within tolerance, exit 0", () => {
  assert.ok(existsSync(fixture), `fixture at ${fixture}`);
  const r = cim('parity', '--fixture', fixture);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(report.ok, true);
  for (const k of ['logits', 'loss', 'grads', 'after_step']) {
    assert.ok(typeof report[k] === 'number' && report[k] >= 0 && report[k] <= 1e-4, `${k} = ${report[k]}`);
  }
  assert.ok(report.logits < 5e-5 && report.grads < 1e-5, JSON.stringify(report));
  assert.equal(report.config.depth, 2);
});

test('parity fails (exit 1) when a golden tensor is off by more than the tolerance', async () => {
  const bytes = new Uint8Array(await readFile(fixture));
  const dv = new DataView(bytes.buffer);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const [begin] = header['after_step/blocks.1.mlp.fc2.weight'].data_offsets as [number, number];
  const at = 8 + n + begin;
  dv.setFloat32(at, dv.getFloat32(at, true) + 0.01, true);
  const dir = await mkdtemp(join(tmpdir(), 'cim-parity-'));
  const bad = join(dir, 'tampered.safetensors');
  await writeFile(bad, bytes);
  const r = cim('parity', '--fixture', bad);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout.trim());
  assert.equal(report.ok, false);
  assert.ok(report.after_step > 1e-4, `after_step ${report.after_step}`);
  assert.equal(report.worst.after_step, 'after_step/blocks.1.mlp.fc2.weight');
  assert.ok(report.logits < 1e-4, 'the other groups still pass');
});

test('bad input: clear messages and exit code 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['parity'], /needs --fixture/],
    [['parity', '--fixture', '/nonexistent.safetensors'], /cannot read fixture/],
    [['pretrain', '--batch-size', 'eight'], /--batch-size must be an integer/],
    [['pretrain', '--dataset', '/no/such/dir'], /not "fashion-mnist", "synthetic", or an existing directory/],
    [['pretrain', '--preset', 'huge'], /unknown preset "huge"/],
    [['pretrain', '--model', 'vitGiant'], /model "vitGiant" is not one of/],
    [['pretrain', '--model', 'resnet9000'], /model "resnet9000" is not one of cimVitTinyPatch16, .*cimResnet50, cimResnetMicro/],
    [['pretrain', '--resume'], /--resume needs --out/],
    [['finetune', '--from', 'scratch', '--encoder', 'middle'], /--encoder: encoder "middle" is not one of online, target/],
    [['probe', '--from', 'scratch', '--model', 'vitGiant'], /--model: model "vitGiant" is not one of cimVitTinyPatch16, .*cimResnetMicro/],
    [['pretrain', '--ranks', '2', '--nodes', '3'], /--nodes 3: more nodes than --ranks 2/],
    [['pretrain', '--ranks', '2', '--wire', 'int8'], /--wire int8: not auto, float32, float16, bfloat16/],
    [['pretrain', '--ranks', '2', '--redis', 'redis://a:6379,http://b'], /--redis: "http:\/\/b" is not a redis:\/\/ or rediss:\/\/ URL/],
    [['frobnicate'], /unknown command/],
  ];
  for (const [args, msg] of cases) {
    const r = cim(...args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(' '));
  }
});

test('pretrain → checkpoint, metrics, resume; visualize draws the figure', async () => {
  const out = await mkdtemp(join(tmpdir(), 'cim-cli-'));
  const a = cim(
    'pretrain',
    '--preset',
    'smoke',
    '--limit',
    '256',
    '--max-steps',
    '2',
    '--checkpoint-every',
    '1',
    '--out',
    out,
    '--workers',
    '0',
  );
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /batch {8}32 × 1 accumulation × 1 rank\(s\) = effective 32/);
  assert.match(a.stderr, /lr {11}0\.0015 × 32\/256 = 1\.875e-4 peak/);
  const ckpts = readdirSync(join(out, 'checkpoints')).sort();
  assert.deepEqual(ckpts, ['step-00000001', 'step-00000002']);
  for (const f of ['model.safetensors', 'optimizer.safetensors', 'state.json', 'manifest.json']) {
    assert.ok(existsSync(join(out, 'checkpoints', 'step-00000002', f)), f);
  }
  const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(lines.length, 2);
  const again = cim('pretrain', '--preset', 'smoke', '--out', out);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already holds checkpoints: pass --resume/);
  const b = cim('pretrain', '--out', out, '--resume', '--max-steps', '1', '--workers', '0');
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /resuming at 2 from step-00000002/);
  assert.ok(existsSync(join(out, 'checkpoints', 'step-00000003')));
  assert.equal((await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').length, 3);

  const png = join(out, 'maps.png');
  const v = cim('visualize', '--checkpoint', out, '--dataset', 'synthetic', '--index', '1', '--out', png);
  assert.equal(v.code, 0, v.stderr);
  const bytes = await readFile(png);
  assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  assert.ok(width >= 3 * 32 && height >= 6 * 32, `figure ${width}×${height} holds 3 panels × 6 exemplars`);
  const report = JSON.parse(v.stdout.trim());
  assert.equal(report.iou.length, 6);
  for (const x of report.iou) assert.ok(x >= 0 && x <= 1);
});

test('pretrain --model cimResnetMicro: trains, evaluates held-out IoU, checkpoints a self-describing ResNet; resume and visualize read it', async () => {
  const out = await mkdtemp(join(tmpdir(), 'cim-cli-resnet-'));
  const flags = [
    '--dataset',
    'synthetic',
    '--limit',
    '32',
    '--batch-size',
    '8',
    '--epochs',
    '1',
    '--workers',
    '0',
    '--eval-images',
    '16',
    '--checkpoint-every',
    '2',
  ];
  const a = cim('pretrain', '--preset', 'smoke', '--model', 'cimResnetMicro', ...flags, '--max-steps', '3', '--out', out);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /model {8}cimResnetMicro \{\} — 0\.\d\d M trainable parameters/);
  assert.match(a.stderr, /steps {8}4\/epoch × 1 epochs = 4/);
  assert.match(a.stderr, /stopped after 3 steps|done: 3 steps/);
  const meta = parseSafetensorsHeader(await readFile(join(out, 'checkpoints', 'step-00000003', 'model.safetensors')));
  assert.equal(meta.architecture, 'cim-resnet');
  assert.equal(meta.layers, '1,1,1,1');
  const b = cim('pretrain', '--out', out, '--resume', '--workers', '0');
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /resuming at 3 from step-00000003/);
  assert.match(b.stderr, /held-out {5}IoU 0\.\d{3} of predicted \(p > 0\.5\) vs true maps over 96 exemplars/);
  const result = JSON.parse(b.stdout.trim().split('\n').at(-1)!);
  assert.equal(result.steps, 1);
  assert.ok(result.eval.meanIoU >= 0 && result.eval.meanIoU <= 1 && Number.isFinite(result.eval.loss));
  const png = join(out, 'maps.png');
  const v = cim('visualize', '--checkpoint', out, '--dataset', 'synthetic', '--out', png);
  assert.equal(v.code, 0, v.stderr);
  assert.equal((await readFile(png)).subarray(1, 4).toString(), 'PNG');
  assert.equal(JSON.parse(v.stdout.trim()).iou.length, 6);
});

test('the pure-JS cpu backend computes the same model (parity on --backend cpu)', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', 'parity', '--fixture', fixture, '--backend', 'cpu'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /tfjs backend: cpu/);
  assert.equal(JSON.parse(r.stdout.trim()).ok, true);
});

test('Ctrl-C (SIGINT) checkpoints at the next step boundary and exits 0', async () => {
  const out = await mkdtemp(join(tmpdir(), 'cim-sigint-'));
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', 'apps/cli/src/main.ts', 'pretrain', '--preset', 'smoke', '--workers', '0', '--checkpoint-every', '0', '--out', out],
    {
      cwd: root,
      env: { ...process.env, CIM_BACKEND: testBackendChoice() },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  let stdout = '';
  p.stderr.on('data', (d) => (stderr += d));
  p.stdout.on('data', (d) => (stdout += d));
  const metrics = join(out, 'metrics.jsonl');
  const t0 = Date.now();
  while (!existsSync(metrics) || (await readFile(metrics, 'utf8')).trim().split('\n').length < 2) {
    if (Date.now() - t0 > 120_000) throw new Error(`no steps: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  p.kill('SIGINT');
  const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /Ctrl-C: checkpointing at the next step boundary/);
  assert.match(stderr, /stopped after \d+ steps; continue with: npm run cim -- pretrain --out .* --resume/);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.equal(result.stopped, true);
  assert.ok(result.steps >= 2 && result.steps < 32, `stopped at ${result.steps}`);
  const ids = readdirSync(join(out, 'checkpoints'));
  assert.deepEqual(ids, [`step-${String(result.steps).padStart(8, '0')}`]);
});
