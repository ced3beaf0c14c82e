// End to end, over REST, against real PostgreSQL, Redis and an S3-compatible server, with the
// API, the controller and two workers as separate processes (the stack `npm run dev` starts):
// the README's curl walk-through runs as written (team, token, a 2-rank smoke pre-training,
// checkpoint download checked against its manifest, a fine-tune from `latest`), then the test
// checks what it left behind and runs a robustness eval of the fine-tuned classifier.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createS3Client, S3CheckpointStore } from '@cim-forge/storage';
import { type TempDatabase } from '@cim-forge/db/testing';
import { type Stack } from './stack.ts';
import { closeTestStack, startTestStack } from './test-stack.ts';

/** Prometheus text → the sum of every sample of `name` whose labels include `match` */
export function sumSamples(text: string, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) total += Number(m[3]);
  }
  return total;
}

const readme = fileURLToPath(new URL('../../../README.md', import.meta.url));
let db: TempDatabase;
let metricsBase: number;
let dir: string;
let stack: Stack;
const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
const log: string[] = [];

before(async () => {
  ({ db, dir, stack, metricsBase } = await startTestStack({ name: 'stack', workers: 2, adminToken, log }));
});

after(() => closeTestStack({ db, dir, stack }));

function runBash(
  script: string,
  o: { cwd: string; timeoutMs: number; env: NodeJS.ProcessEnv },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: o.cwd, env: o.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b));
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function api<T = Record<string, unknown>>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', ...init.headers },
  });
  const body = await res.json();
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

async function waitFor(runId: string, timeoutMs: number): Promise<{ status: string; error: string | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api<{ status: string; error: string | null }>(`/v1/runs/${runId}`);
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status)) return r;
    assert.ok(Date.now() < deadline, `run ${runId} still ${r.status} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

const scrape = async (port: number) => {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
};
const scrapeAll = async () => ({
  api: await (await fetch(`${stack.apiUrl}/metrics`)).text(),
  controller: await scrape(metricsBase),
  workers: [await scrape(metricsBase + 1), await scrape(metricsBase + 2)],
});

test(
  'the README walk-through works as written, and leaves verified checkpoints, metrics and a fine-tune',
  { timeout: 900_000 },
  async () => {
    const before = await scrapeAll();
    assert.equal(
      before.workers.reduce((a, t) => a + sumSamples(t, 'cim_rank_steps_total'), 0),
      0,
    );
    assert.equal(sumSamples(before.api, 'cim_runs_submitted_total'), 0);
    const text = await readFile(readme, 'utf8');
    const block = /<!-- walkthrough:begin -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(text);
    assert.ok(block, 'README.md has the walk-through between its markers');
    // asynchronously: s3rver serves from this process, so a blocking spawn would starve it
    const r = await runBash(block[1], {
      cwd: dir,
      timeoutMs: 800_000,
      env: { ...process.env, API: stack.apiUrl, CIM_ADMIN_TOKEN: adminToken },
    });
    assert.equal(
      r.status,
      0,
      `walk-through exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- services (last 40 lines)\n${log.slice(-40).join('\n')}`,
    );
    assert.match(r.stdout, /^model\.safetensors: OK$/m);
    const runId = /^pretrain run ([0-9a-f-]{36})$/m.exec(r.stdout)![1];
    const ftId = /^finetune run ([0-9a-f-]{36})$/m.exec(r.stdout)![1];

    // the run dashboard's metrics moved: both workers trained 16 steps of the pre-training
    const afterRun = await scrapeAll();
    const pretrainSteps = afterRun.workers.map((w) => sumSamples(w, 'cim_rank_steps_total', { run_id: runId }));
    // a worker forgets a run's series when its next run starts: the one that trained the fine-tune holds only that
    const ftSteps = afterRun.workers.map((w) => sumSamples(w, 'cim_rank_steps_total', { run_id: ftId }));
    const stepLines = afterRun.workers.map((w) =>
      w
        .split('\n')
        .filter((l) => l.startsWith('cim_rank_steps_total'))
        .join('; '),
    );
    assert.ok(
      pretrainSteps.every((n, i) => n + ftSteps[i] > 0),
      `every worker trained: ${JSON.stringify(stepLines)}`,
    );
    assert.equal(
      ftSteps.reduce((a, b) => a + b, 0),
      16,
      `fine-tune steps per worker ${ftSteps}`,
    );
    assert.ok(pretrainSteps.includes(16), `pre-training steps per worker ${pretrainSteps}`);
    const allreduceBytes = afterRun.workers.map((w) => sumSamples(w, 'cim_rank_allreduce_bytes_total', { run_id: runId }));
    assert.ok(
      allreduceBytes.some((b) => b > 0),
      `all-reduce bytes per worker ${allreduceBytes}`,
    );
    // rank 0 writes checkpoints; its worker may since have moved on to the fine-tune, which writes its own
    const checkpointBytes = afterRun.workers.map(
      (w) => sumSamples(w, 'cim_checkpoint_bytes_total', { run_id: runId }) + sumSamples(w, 'cim_checkpoint_bytes_total', { run_id: ftId }),
    );
    assert.ok(
      checkpointBytes.some((b) => b > 0),
      `checkpoint bytes per worker ${checkpointBytes}`,
    );
    assert.equal(sumSamples(afterRun.api, 'cim_runs_submitted_total'), 2);
    assert.equal(sumSamples(afterRun.controller, 'cim_runs', { status: 'SUCCEEDED' }), 2);
    assert.equal(sumSamples(afterRun.controller, 'cim_runs_finished_total', { status: 'SUCCEEDED' }), 2);
    assert.equal(sumSamples(afterRun.controller, 'cim_queue_wait_seconds_count'), 2);
    const promtool = spawnSync('promtool', ['--version']);
    if (promtool.status === 0) {
      for (const text of [afterRun.api, afterRun.controller, ...afterRun.workers]) {
        const c = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        assert.equal(c.status, 0, `promtool: ${c.stdout}${c.stderr}`);
      }
    }

    // the pre-training: SUCCEEDED on 2 ranks, 16 steps of loss, checkpoints whose every file verifies
    const run = await api<{ status: string; worldSize: number }>(`/v1/runs/${runId}`);
    assert.deepEqual([run.status, run.worldSize], ['SUCCEEDED', 2]);
    const loss = await api<{ total: number; points: { step: number; value: number }[] }>(`/v1/runs/${runId}/metrics?name=loss`);
    assert.equal(loss.total, 16);
    assert.deepEqual([loss.points[0].step, loss.points.at(-1)!.step], [1, 16]);
    const series = await api<{ series: { name: string; rank: number | null; points: number }[] }>(`/v1/runs/${runId}/metrics`);
    for (const rank of [0, 1]) assert.equal(series.series.find((s) => s.name === 'allreduce_bytes' && s.rank === rank)?.points, 16);
    const { checkpoints } = await api<{ checkpoints: { id: string; step: number; uri: string; status: string }[] }>(
      `/v1/runs/${runId}/checkpoints`,
    );
    assert.deepEqual(
      checkpoints.map((c) => [c.step, c.status]),
      [[16, 'COMPLETE']],
    );
    const client = createS3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    });
    const store = new S3CheckpointStore({ client, bucket: stack.bucket, prefix: `runs/${runId}/checkpoints` });
    const id = checkpoints[0].uri.split('/').at(-1)!;
    const manifest = (await store.manifest(id))!;
    assert.deepEqual(Object.keys(manifest.files).sort(), ['model.safetensors', 'optimizer.safetensors', 'state.json']);
    for (const f of Object.keys(manifest.files)) assert.equal((await store.read(id, f)).byteLength, manifest.files[f].bytes);
    client.destroy();
    const events = (await api<{ events: { type: string }[] }>(`/v1/runs/${runId}/events`)).events.map((e) => e.type);
    assert.deepEqual(events, ['run.queued', 'run.attempt', 'run.running', 'checkpoint.complete', 'run.eval', 'run.succeeded']);

    // the fine-tune: SUCCEEDED from the pinned checkpoint, top-1 scored
    const ft = await api<{ status: string; source: { checkpointId: string; step: number } }>(`/v1/runs/${ftId}`);
    assert.equal(ft.status, 'SUCCEEDED');
    assert.deepEqual([ft.source.checkpointId, ft.source.step], [checkpoints[0].id, 16]);
    const top1 = await api<{ points: { value: number }[] }>(`/v1/runs/${ftId}/metrics?name=eval_top1`);
    assert.ok(top1.points.length === 1 && top1.points[0].value > 0.1, `top-1 ${top1.points[0]?.value} beats chance (0.1) after one epoch`);

    // a robustness eval of the fine-tuned classifier, submitted with a second token of the same team
    const { teamId } = await api<{ teamId: string }>(`/v1/runs/${ftId}`);
    const { token } = await api<{ token: string }>('/v1/tokens', { method: 'POST', body: JSON.stringify({ teamId, name: 'e2e' }) });
    const ev = await api<{ id: string }>('/v1/runs', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({
        kind: 'eval',
        preset: 'smoke',
        config: { images: 64, severities: [3] },
        source: { runId: ftId, checkpoint: 'latest' },
      }),
    });
    const evDone = await waitFor(ev.id, 300_000);
    assert.equal(evDone.status, 'SUCCEEDED', evDone.error ?? '');
    const clean = (await api<{ points: { value: number }[] }>(`/v1/runs/${ev.id}/metrics?name=clean_top1`)).points[0].value;
    const fgsm = (await api<{ points: { value: number }[] }>(`/v1/runs/${ev.id}/metrics?name=fgsm_top1`)).points[0].value;
    const pgd = (await api<{ points: { value: number }[] }>(`/v1/runs/${ev.id}/metrics?name=pgd_top1`)).points[0].value;
    assert.ok(clean > 0.1 && fgsm <= clean && pgd <= fgsm + 1 / 64, `clean ${clean} ≥ FGSM ${fgsm} ≥ PGD ${pgd} (within one image)`);
  },
);
