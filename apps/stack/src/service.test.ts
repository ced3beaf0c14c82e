// End to end, over REST, against real PostgreSQL, Redis and an S3-compatible server, with the
// API, the controller and two workers as separate processes (the stack `npm run dev` starts):
// the README's curl walk-through runs as written (team, token, a 2-rank smoke pre-training,
// checkpoint download checked against its manifest, a fine-tune from `latest`), then the test
// checks what it left behind and runs a robustness eval of the fine-tuned classifier.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createS3Client, S3CheckpointStore } from '@cim-forge/storage';
import { createTempDatabase, type TempDatabase } from '@cim-forge/db/testing';
import { startStack, type Stack } from './stack.ts';

const readme = fileURLToPath(new URL('../../../README.md', import.meta.url));
let db: TempDatabase;
let dir: string;
let stack: Stack;
const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
const log: string[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  db = await createTempDatabase();
  dir = await mkdtemp(join(tmpdir(), 'cim-stack-'));
  stack = await startStack({
    databaseUrl: db.url, queuePrefix: `cimtest-stack-${randomBytes(4).toString('hex')}`, apiPort: await freePort(),
    s3Directory: join(dir, 's3'), workers: 2, adminToken, metricsPortBase: await freePort(),
    onLine: (service, line) => log.push(`${service}: ${line}`),
  });
});

after(async () => {
  await stack?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

async function api<T = Record<string, unknown>>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${stack.apiUrl}${path}`, { ...init, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', ...init.headers } });
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

test('the README walk-through works as written, and leaves verified checkpoints, metrics and a fine-tune', { timeout: 900_000 }, async () => {
  const text = await readFile(readme, 'utf8');
  const block = /<!-- walkthrough:begin -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(text);
  assert.ok(block, 'README.md has the walk-through between its markers');
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', block[1]], {
    cwd: dir, encoding: 'utf8', timeout: 800_000,
    env: { ...process.env, API: stack.apiUrl, CIM_ADMIN_TOKEN: adminToken },
  });
  assert.equal(r.status, 0, `walk-through exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- services (last 40 lines)\n${log.slice(-40).join('\n')}`);
  assert.match(r.stdout, /^model\.safetensors: OK$/m);
  const runId = /^pretrain run ([0-9a-f-]{36})$/m.exec(r.stdout)![1];
  const ftId = /^finetune run ([0-9a-f-]{36})$/m.exec(r.stdout)![1];

  // the pre-training: SUCCEEDED on 2 ranks, 16 steps of loss, checkpoints whose every file verifies
  const run = await api<{ status: string; worldSize: number }>(`/v1/runs/${runId}`);
  assert.deepEqual([run.status, run.worldSize], ['SUCCEEDED', 2]);
  const loss = await api<{ total: number; points: { step: number; value: number }[] }>(`/v1/runs/${runId}/metrics?name=loss`);
  assert.equal(loss.total, 16);
  assert.deepEqual([loss.points[0].step, loss.points.at(-1)!.step], [1, 16]);
  const series = await api<{ series: { name: string; rank: number | null; points: number }[] }>(`/v1/runs/${runId}/metrics`);
  for (const rank of [0, 1]) assert.equal(series.series.find((s) => s.name === 'allreduce_bytes' && s.rank === rank)?.points, 16);
  const { checkpoints } = await api<{ checkpoints: { id: string; step: number; uri: string; status: string }[] }>(`/v1/runs/${runId}/checkpoints`);
  assert.deepEqual(checkpoints.map((c) => [c.step, c.status]), [[16, 'COMPLETE']]);
  const client = createS3Client({ endpoint: stack.s3Endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
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
    body: JSON.stringify({ kind: 'eval', preset: 'smoke', config: { images: 64, severities: [3] }, source: { runId: ftId, checkpoint: 'latest' } }),
  });
  const evDone = await waitFor(ev.id, 300_000);
  assert.equal(evDone.status, 'SUCCEEDED', evDone.error ?? '');
  const clean = (await api<{ points: { value: number }[] }>(`/v1/runs/${ev.id}/metrics?name=clean_top1`)).points[0].value;
  const fgsm = (await api<{ points: { value: number }[] }>(`/v1/runs/${ev.id}/metrics?name=fgsm_top1`)).points[0].value;
  const pgd = (await api<{ points: { value: number }[] }>(`/v1/runs/${ev.id}/metrics?name=pgd_top1`)).points[0].value;
  assert.ok(clean > 0.1 && fgsm <= clean && pgd <= fgsm + 1 / 64, `clean ${clean} ≥ FGSM ${fgsm} ≥ PGD ${pgd} (within one image)`);
});
