/**
 * The tfjs webgpu backend on Dawn's software adapter (Mesa llvmpipe), in a child process
 * (testing/webgpu-probe.ts): every op our models use agrees with the cpu backend to float32
 * rounding; the differences webgpu has are shown here with numbers (NaN, no synchronous reads, the
 * package's run-to-run varying split-K matMul); tensors stay flat across steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const probe = fileURLToPath(new URL('../testing/webgpu-probe.ts', import.meta.url));
const r = spawnSync(process.execPath, ['--import', 'tsx', probe], {
  encoding: 'utf8',
  env: { ...process.env, CIM_WEBGPU_ADAPTER: 'software' },
  timeout: 120_000,
});
const report = r.status === 0 ? JSON.parse(r.stdout.trim().split('\n').at(-1)!) : undefined;

test("the software adapter starts and is named (Mesa llvmpipe over Dawn's OpenGL ES backend)", () => {
  assert.equal(r.status, 0, r.stderr);
  assert.equal(report.adapter.kind, 'software');
  assert.equal(report.adapter.dawnBackend, 'opengles');
  assert.match(report.adapter.name, /^llvmpipe/);
  assert.match(r.stderr, /WebGPU adapter: llvmpipe\S* \(software, Dawn opengles/);
});

test('every op our models use (and its gradient) matches the cpu backend to float32 rounding', () => {
  const errs = report.relErr as Record<string, number>;
  assert.equal(Object.keys(errs).length, 23);
  for (const [op, e] of Object.entries(errs)) assert.ok(e <= 2e-6, `${op}: relative error ${e}`);
  // selections and integer results are exact
  for (const op of [
    'max',
    'maxPool',
    'maxPool gradient after relu (ties)',
    'gather gradient, repeated indices',
    'argMax with ties',
    'oneHot',
    'sign, abs, clipByValue',
  ]) {
    assert.equal(errs[op], 0, op);
  }
});

test('webgpu differs on NaN: relu(NaN) is 0 (cpu: NaN) and argMax skips NaN (cpu: picks it); max, sum and the rest propagate it', () => {
  const s = report.special as Record<string, { cpu: unknown[]; webgpu: unknown[] }>;
  // input: [NaN, 1, -2, Infinity, -Infinity, 0]
  assert.deepEqual(s.relu.cpu, ['NaN', 1, 0, 'Infinity', 0, 0]);
  assert.deepEqual(s.relu.webgpu, [0, 1, 0, 'Infinity', 0, 0]);
  assert.deepEqual(s.argMax.cpu, [0]);
  assert.deepEqual(s.argMax.webgpu, [3]);
  for (const op of ['max', 'sum', 'maximum(x, 0)', 'logSoftmax', 'erf']) assert.deepEqual(s[op].webgpu, s[op].cpu, op);
  assert.deepEqual(s.max.webgpu, ['NaN']);
  assert.deepEqual(s.sum.webgpu, ['NaN']);
});

test('matMul is deterministic on webgpu with our setting; the package default (split-K, atomic adds) is not', () => {
  const m = report.matMul as {
    programType: number;
    oursDiffering: number;
    defaultDiffering: number;
    defaultVsOurs: number;
    elements: number;
  };
  assert.equal(m.programType, 3, 'MatMulPackedProgram');
  assert.equal(m.elements, 32 * 48);
  assert.equal(m.oursDiffering, 0, '8 runs of the same product are bit-identical');
  // split-K sums K in chunks and adds them atomically: other bits than the tiled program's, and
  // (with several GPU threads, as llvmpipe has on a multi-core machine) other bits on every run
  assert.ok(m.defaultVsOurs > 0, JSON.stringify(m));
  if (availableParallelism() > 1) assert.ok(m.defaultDiffering > 0, JSON.stringify(m));
});

test('no synchronous reads of GPU tensors in Node: dataSync() says so; await data() works', () => {
  assert.match(report.dataSync, /dataSync\(\)\/arraySync\(\) are not available on the webgpu backend in Node .*await tensor\.data\(\)/);
  assert.equal(report.readAsync, 2);
});

test("training steps on webgpu: the cpu backend's losses, and tf.memory().numTensors flat", () => {
  const { cpuSteps, gpuSteps } = report as {
    cpuSteps: { numTensors: number[]; losses: number[] };
    gpuSteps: { numTensors: number[]; losses: number[] };
  };
  assert.equal(gpuSteps.losses.length, 4);
  for (let i = 0; i < 4; i++)
    assert.ok(
      Math.abs(gpuSteps.losses[i] - cpuSteps.losses[i]) <= 1e-5 * cpuSteps.losses[i],
      `step ${i}: ${gpuSteps.losses[i]} vs ${cpuSteps.losses[i]}`,
    );
  assert.ok(gpuSteps.losses[3] < gpuSteps.losses[0], 'the loss moves down');
  assert.equal(new Set(gpuSteps.numTensors).size, 1, `numTensors per step: ${gpuSteps.numTensors}`);
  assert.equal(new Set(cpuSteps.numTensors).size, 1);
});
