// The non-finite-loss path, reached by the test-only fault (`faults.nonFiniteLossFromStep`, the
// worker's CIM_FAULT_NON_FINITE_LOSS) with a sane config: the run stops with NonFiniteLossError at
// that step, and the checkpoints written before it stay, the newest at that step with finite weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors } from '@cim-forge/cim';
import { initTestBackend } from '@cim-forge/cim/testing';
import { pretrain } from './pretrain.ts';
import { LocalCheckpointStore } from './checkpoint-store.ts';
import { NonFiniteLossError } from './trainer.ts';
import { tinyConfig } from './testing.ts';

await initTestBackend();

test('a NaN loss injected after step 4 stops the run there; the checkpoints of steps 2 and 4 are kept, finite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cim-fault-'));
  try {
    const store = new LocalCheckpointStore(dir);
    const losses: number[] = [];
    const err = await pretrain({
      config: tinyConfig({ checkpointEvery: 2, workers: 0 }),
      store,
      faults: { nonFiniteLossFromStep: 4 },
      hooks: { onStep: (s) => losses.push(s.loss) },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof NonFiniteLossError, `expected NonFiniteLossError, got ${String(err)}`);
    assert.equal(err.step, 4);
    assert.ok(Number.isNaN(err.loss));
    assert.match(err.message, /^non-finite loss \(NaN\) at step 4: stopping the run/);
    assert.equal(losses.length, 4);
    assert.ok(losses.every(Number.isFinite), `the 4 good steps' losses: ${losses.join(', ')}`);
    const kept = await store.list();
    assert.deepEqual(
      kept.map((m) => m.step),
      [2, 4],
    );
    const f = parseSafetensors(await store.read(kept.at(-1)!.id, 'model.safetensors'));
    let values = 0;
    for (const t of f.tensors.values()) {
      for (const x of t.data as Float32Array) assert.ok(Number.isFinite(x));
      values += t.data.length;
    }
    assert.ok(values > 1000, `${values} weights checked`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
