import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCheckpointStore, type CheckpointStore } from './checkpoint-store.ts';
import { JsonlMetricsSink } from './metrics-sink.ts';
import { runScaffold, type EngineEvent, type RunSteps, type StepOutcome } from './run-scaffold.ts';

/** A whole run kind without tensors: gradient descent on (w − 3)², w and the step in state.json. */
class QuadraticRun implements RunSteps {
  w = 0;
  k = 0;
  begun: Array<string | undefined> = [];
  constructor(
    readonly totalSteps: number,
    readonly lr = 0.1,
  ) {}
  step(): number {
    return this.k;
  }
  async restore(store: CheckpointStore, id: string): Promise<number> {
    const s = JSON.parse(new TextDecoder().decode(await store.read(id, 'state.json'))) as { w: number; step: number };
    this.w = s.w;
    this.k = s.step;
    return this.k;
  }
  async begin(resumedFrom: string | undefined): Promise<void> {
    this.begun.push(resumedFrom);
  }
  async advance(): Promise<StepOutcome> {
    const loss = (this.w - 3) ** 2;
    this.w -= this.lr * 2 * (this.w - 3);
    this.k += 1;
    return { loss, stop: false, metrics: [{ step: this.k, loss }] };
  }
  save(store: CheckpointStore, last: { loss: number }) {
    const state = { w: this.w, step: this.k, metrics: { loss: last.loss } };
    return store.write(`step-${String(this.k).padStart(8, '0')}`, this.k, {
      'state.json': new TextEncoder().encode(JSON.stringify(state)),
    });
  }
}

const retention = (keepLatest: number) => ({ keepLatest, keepBest: 0, metric: 'loss', better: 'lower' as const });

test('scaffold: checkpoints every N steps and at the end, retention keeps the newest 2, metrics one row a step', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cim-scaffold-'));
  try {
    const store = new LocalCheckpointStore(join(dir, 'ckpt'));
    const run = new QuadraticRun(7);
    const saved: Array<[string, number]> = [];
    const r = await runScaffold(run, {
      store,
      metrics: new JsonlMetricsSink(join(dir, 'm.jsonl')),
      checkpointEvery: 2,
      retention: retention(2),
      onCheckpoint: (id, step) => saved.push([id, step]),
    });
    assert.equal(r.steps, 7);
    assert.equal(r.stopped, false);
    assert.equal(r.firstLoss, 9);
    assert.equal(r.lastCheckpoint, 'step-00000007');
    assert.deepEqual(
      saved.map(([, s]) => s),
      [2, 4, 6, 7],
    );
    assert.deepEqual(
      (await store.list()).map((m) => m.id),
      ['step-00000006', 'step-00000007'],
    );
    const rows = (await readFile(join(dir, 'm.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((x) => x.step),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(rows[1].loss, (0.6 - 3) ** 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('scaffold resume: the newest usable checkpoint; a corrupt newer one is skipped, logged and reported', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cim-scaffold-'));
  try {
    const straight = new QuadraticRun(8);
    await runScaffold(straight, { checkpointEvery: 0, retention: retention(3) });

    const store = new LocalCheckpointStore(dir);
    await runScaffold(new QuadraticRun(8), { store, checkpointEvery: 2, retention: retention(3), maxSteps: 6 });
    assert.deepEqual(
      (await store.list()).map((m) => m.id),
      ['step-00000002', 'step-00000004', 'step-00000006'],
    );
    const f = join(dir, 'step-00000006', 'state.json');
    const bytes = await readFile(f);
    bytes[2] ^= 0x01;
    await writeFile(f, bytes);

    const events: EngineEvent[] = [];
    const logs: string[] = [];
    const resumed = new QuadraticRun(8);
    const r = await runScaffold(resumed, {
      store,
      resume: true,
      checkpointEvery: 2,
      retention: retention(3),
      log: (m) => logs.push(m),
      onEvent: (e) => events.push(e),
    });
    assert.equal(events.length, 2);
    assert.deepEqual(events[0].type === 'checkpoint.skipped' && events[0].checkpoint, 'step-00000006');
    assert.match(events[0].type === 'checkpoint.skipped' ? events[0].reason : '', /state\.json is corrupt/);
    assert.deepEqual(events[1], { type: 'checkpoint.resumed', checkpoint: 'step-00000004', step: 4 });
    assert.match(logs.join('\n'), /^checkpoint step-00000006 unusable \(.*corrupt.*\); trying an older one$/);
    assert.deepEqual(resumed.begun, ['step-00000004']);
    assert.equal(r.resumedFrom, 'step-00000004');
    assert.equal(r.steps, 4);
    // from step 4 to 8 the same updates: exactly the straight run's w
    assert.equal(resumed.w, straight.w);
    assert.deepEqual(
      (await store.list()).map((m) => m.id),
      ['step-00000004', 'step-00000006', 'step-00000008'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('scaffold: an empty store starts fresh; a store where nothing loads is an error; a stop vote checkpoints and returns', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cim-scaffold-'));
  try {
    const store = new LocalCheckpointStore(dir);
    const events: EngineEvent[] = [];
    let asked = 0;
    const run = new QuadraticRun(10);
    const r = await runScaffold(run, {
      store,
      resume: true,
      checkpointEvery: 0,
      retention: retention(1),
      onEvent: (e) => events.push(e),
      shouldStop: () => ++asked > 3,
    });
    assert.equal(events.length, 0);
    assert.deepEqual(run.begun, [undefined]);
    assert.equal(r.stopped, true);
    assert.equal(r.steps, 3);
    assert.deepEqual(
      (await store.list()).map((m) => m.id),
      ['step-00000003'],
    );

    await writeFile(join(dir, 'step-00000003', 'state.json'), '{}');
    const again = runScaffold(new QuadraticRun(10), {
      store,
      resume: true,
      checkpointEvery: 0,
      retention: retention(1),
      onEvent: (e) => events.push(e),
    });
    await assert.rejects(again, new RegExp(`no usable checkpoint in ${dir}`));
    assert.deepEqual(
      events.map((e) => e.type),
      ['checkpoint.skipped'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
