/**
 * What every chaos scenario works with: a running stack (API, controller, 2 workers as real
 * processes), direct reads of its PostgreSQL rows, the rank processes' pids, the checkpoints in
 * S3, and the weights of an uninterrupted reference run of the same config to compare against.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parseSafetensors } from '@cim-forge/cim';
import { FAULT_INJECTION_ON } from '@cim-forge/settings';
import { createDb, type Db, type Run } from '@cim-forge/db';
import { createTempDatabase } from '@cim-forge/db/testing';
import { createS3Client, parseCheckpointUri, S3CheckpointStore } from '@cim-forge/storage';
import { startStack, type Stack, type StackOptions } from '../stack.ts';
import { freePort } from './private-services.ts';

export interface ScenarioResult {
  scenario: string;
  expected: string;
  observed: string;
  pass: boolean;
  seconds?: number;
}

export interface Scenario {
  name: string;
  expected: string;
  /** returns what it saw; `pass` is false when any check failed */
  run(h: Harness): Promise<{ observed: string; pass: boolean }>;
}

/** the run name the workers' CIM_FAULT_NON_FINITE_LOSS names, and the steps done when its loss turns NaN */
export const NON_FINITE_LOSS_RUN = 'chaos-non-finite-loss';
export const NON_FINITE_LOSS_STEP = 4;

/**
 * The chaos stack's timings: a lost rank is noticed within seconds (heartbeat 1 s, silence 6 s,
 * a hung all-reduce 5 s) and a dead controller's runs move after ~5 s.
 */
export const CHAOS_ENV: Record<string, string> = {
  // test-only fault injection (refused in production): runs named NON_FINITE_LOSS_RUN get a NaN loss after step 4
  CIM_FAULT_INJECTION: FAULT_INJECTION_ON,
  CIM_FAULT_NON_FINITE_LOSS: `${NON_FINITE_LOSS_RUN}@${NON_FINITE_LOSS_STEP}`,
  CIM_HEARTBEAT_MS: '1000',
  CIM_HEARTBEAT_TIMEOUT_MS: '6000',
  CIM_COLLECTIVE_TIMEOUT_MS: '5000',
  CIM_RENDEZVOUS_TIMEOUT_MS: '30000',
  CIM_CONTROLLER_LOCK_MS: '5000',
  LOG_LEVEL: 'warn',
};

/**
 * The run every scenario submits: the smoke model on 128 synthetic images, 2 ranks × batch 8 →
 * 8 steps an epoch, 4 epochs = 32 steps, a checkpoint every 2 steps; same seed every time, so
 * every run of it that SUCCEEDS must end with the same weights.
 */
export const CHAOS_RUN_CONFIG = {
  dataset: { kind: 'synthetic', size: 128, imageSize: 48, seed: 0 },
  batchSize: 8,
  epochs: 4,
  warmupEpochs: 1,
  checkpointEvery: 2,
  evalImages: 0,
  workers: 0,
};
export const CHAOS_TOTAL_STEPS = 32;

export interface RunView {
  id: string;
  status: string;
  error: string | null;
  infraRestarts: number;
  userRestarts: number;
  maxRestarts: number;
}

export interface HarnessOptions {
  databaseUrl?: string;
  redisUrl?: string;
  /** also printed: every service line (debugging) */
  verbose?: boolean;
  /** how services start and migrations run (stack.ts; the images check runs them in containers) */
  launch?: StackOptions['launch'];
  migrate?: StackOptions['migrate'];
  /** over CHAOS_ENV (the images check lengthens the timeouts: containers on a loaded machine) */
  env?: Record<string, string>;
  /** how long waitForEnd waits by default, ms (240000) */
  runTimeoutMs?: number;
}

export class Harness {
  /** the weights (every tensor of model.safetensors) of the uninterrupted reference run */
  reference: Map<string, Float32Array> | undefined;
  readonly lines: string[] = [];

  private constructor(
    readonly stack: Stack,
    readonly db: Db,
    private readonly adminToken: string,
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async start(o: HarnessOptions = {}): Promise<Harness> {
    const dir = await mkdtemp(join(tmpdir(), 'cim-chaos-'));
    let dropDb = async () => {};
    let databaseUrl = o.databaseUrl;
    if (!databaseUrl) {
      const tmp = await createTempDatabase();
      databaseUrl = tmp.url;
      dropDb = () => tmp.drop();
    }
    const adminToken = `chaos-${randomBytes(18).toString('base64url')}`;
    const lines: string[] = [];
    const stack = await startStack({
      databaseUrl,
      createDatabase: true,
      redisUrl: o.redisUrl,
      queuePrefix: `cimchaos-${randomBytes(4).toString('hex')}`,
      apiPort: await freePort(),
      s3Directory: join(dir, 's3'),
      workers: 2,
      adminToken,
      metricsPortBase: await freePort(),
      env: { ...CHAOS_ENV, ...o.env },
      launch: o.launch,
      migrate: o.migrate,
      onLine: (service, line) => {
        lines.push(`${service}: ${line}`);
        if (lines.length > 4000) lines.splice(0, 1000);
        if (o.verbose) console.error(`${service}: ${line}`);
      },
    });
    const db = createDb(databaseUrl, { maxConnections: 2 });
    const h = new Harness(stack, db, adminToken, async () => {
      await stack.close();
      await db.$disconnect();
      await dropDb();
      await rm(dir, { recursive: true, force: true });
    });
    (h as { lines: string[] }).lines = lines;
    if (o.runTimeoutMs) h.runTimeoutMs = o.runTimeoutMs;
    return h;
  }

  close(): Promise<void> {
    return this.cleanup();
  }

  async api<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(`${this.stack.apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json', ...init.headers },
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body as T;
  }

  /** a team's token for the chaos runs, made once */
  private teamToken: string | undefined;

  /** the chaos team's token, made on first use */
  async team(): Promise<string> {
    if (!this.teamToken) {
      const team = await this.api<{ id: string }>('/v1/teams', {
        method: 'POST',
        body: JSON.stringify({ name: `chaos-${randomBytes(4).toString('hex')}` }),
      });
      this.teamToken = (
        await this.api<{ token: string }>('/v1/tokens', { method: 'POST', body: JSON.stringify({ teamId: team.id }) })
      ).token;
    }
    return this.teamToken;
  }

  /** POST /v1/sweeps as the chaos team: the sweep's id */
  async submitSweep(body: Record<string, unknown>): Promise<string> {
    const sweep = await this.api<{ id: string }>('/v1/sweeps', {
      method: 'POST',
      headers: { authorization: `Bearer ${await this.team()}` },
      body: JSON.stringify(body),
    });
    return sweep.id;
  }

  async submit(config: Record<string, unknown> = CHAOS_RUN_CONFIG, o: { maxRestarts?: number; name?: string } = {}): Promise<string> {
    await this.team();
    const run = await this.api<{ id: string }>('/v1/runs', {
      method: 'POST',
      headers: { authorization: `Bearer ${this.teamToken}` },
      body: JSON.stringify({ kind: 'pretrain', preset: 'smoke', config, worldSize: 2, ...o }),
    });
    return run.id;
  }

  /** the run, read from PostgreSQL (works while the API is down) */
  async run(id: string): Promise<Run> {
    return this.db.run.findUniqueOrThrow({ where: { id } });
  }

  /** waitForEnd's default wait, ms */
  runTimeoutMs = 240_000;

  async waitForEnd(id: string, timeoutMs = this.runTimeoutMs): Promise<Run> {
    return this.until(`run ${id} ends`, timeoutMs, async () => {
      const r = await this.run(id).catch(() => undefined);
      return r && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status) ? r : undefined;
    });
  }

  /** the newest step rank 0 has logged (metrics are flushed every second) */
  async lastStep(id: string): Promise<number> {
    const r = await this.db.metric.aggregate({ where: { runId: id, name: 'loss', rank: null }, _max: { step: true } });
    return r._max.step ?? 0;
  }

  async waitForStep(id: string, step: number, timeoutMs = 180_000): Promise<number> {
    return this.until(`run ${id} reaches step ${step}`, timeoutMs, async () => {
      const s = await this.lastStep(id).catch(() => 0);
      return s >= step ? s : undefined;
    });
  }

  async until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out (${timeoutMs / 1000} s) waiting until ${what}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  async events(id: string): Promise<{ type: string; message: string; data: Record<string, unknown> | null }[]> {
    const rows = await this.db.runEvent.findMany({ where: { runId: id }, orderBy: { id: 'asc' } });
    return rows.map((e) => ({ type: e.type, message: e.message, data: e.data as Record<string, unknown> | null }));
  }

  async attempts(id: string) {
    return this.db.rankAttempt.findMany({ where: { runId: id }, orderBy: [{ attempt: 'asc' }, { rank: 'asc' }] });
  }

  /** the stack service ('worker-0', …) that runs `rank` of the run's current attempt */
  async workerOf(id: string, rank: number): Promise<string> {
    return this.until(`rank ${rank} of ${id} runs`, 60_000, async () => {
      const row = await this.db.rankAttempt.findFirst({ where: { runId: id, rank, status: 'RUNNING' }, orderBy: { attempt: 'desc' } });
      return row?.workerId ?? undefined;
    });
  }

  /** the pid of the rank process (rank-runner.ts) a worker service is running now */
  rankPid(worker: string): number {
    const parent = this.stack.processes.get(worker)?.pid;
    if (!parent) throw new Error(`${worker} is not running`);
    let out = '';
    try {
      out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent)], { encoding: 'utf8' });
    } catch {
      // ps exits 1 when there is no child
    }
    const line = out.split('\n').find((l) => l.includes('rank-runner'));
    if (!line) throw new Error(`${worker} (pid ${parent}) runs no rank process`);
    return Number(line.trim().split(/\s+/)[0]);
  }

  async rankPidOf(id: string, rank: number): Promise<{ worker: string; pid: number }> {
    const worker = await this.workerOf(id, rank);
    const pid = await this.until(`${worker} runs rank ${rank}`, 30_000, async () => {
      try {
        return this.rankPid(worker);
      } catch {
        return undefined;
      }
    });
    return { worker, pid };
  }

  private s3() {
    return createS3Client({
      endpoint: this.stack.s3Endpoint,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    });
  }

  /** COMPLETE checkpoints of a run, oldest first: [store id, step] */
  async checkpoints(id: string): Promise<{ storeId: string; step: number }[]> {
    const rows = await this.db.checkpoint.findMany({ where: { runId: id, status: 'COMPLETE' }, orderBy: { step: 'asc' } });
    return rows.map((r) => ({ storeId: parseCheckpointUri(r.uri)!.id, step: r.step }));
  }

  /** every tensor of a checkpoint's model.safetensors (online and target encoders, decoder), verified against its manifest */
  async weights(id: string, storeId: string): Promise<Map<string, Float32Array>> {
    const client = this.s3();
    try {
      const store = new S3CheckpointStore({ client, bucket: this.stack.bucket, prefix: `runs/${id}/checkpoints` });
      const f = parseSafetensors(await store.read(storeId, 'model.safetensors'));
      return new Map([...f.tensors].map(([k, v]) => [k, v.data as Float32Array]));
    } finally {
      client.destroy();
    }
  }

  /** the final (newest) checkpoint's weights */
  async finalWeights(id: string): Promise<{ step: number; weights: Map<string, Float32Array> }> {
    const last = (await this.checkpoints(id)).at(-1);
    if (!last) throw new Error(`run ${id} has no COMPLETE checkpoint`);
    return { step: last.step, weights: await this.weights(id, last.storeId) };
  }

  /** Flips a byte of a checkpoint file in S3 in place (the manifest keeps the old sha256). */
  async corrupt(id: string, storeId: string, file = 'model.safetensors'): Promise<void> {
    const client = this.s3();
    try {
      const store = new S3CheckpointStore({ client, bucket: this.stack.bucket, prefix: `runs/${id}/checkpoints` });
      const bytes = await store.read(storeId, file);
      bytes[bytes.length - 7] ^= 0x5a;
      await client.send(new PutObjectCommand({ Bucket: this.stack.bucket, Key: `runs/${id}/checkpoints/${storeId}/${file}`, Body: bytes }));
    } finally {
      client.destroy();
    }
  }

  /** max over tensors of max|a−b| / max|b| against the reference run's final weights */
  async errorVsReference(id: string): Promise<{ step: number; relErr: number }> {
    if (!this.reference) throw new Error('no reference run yet');
    const { step, weights } = await this.finalWeights(id);
    return { step, relErr: maxRelativeError(weights, this.reference) };
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }
}

/** max over tensors of max|a−b| / max|b| (∞ when the tensor sets differ) */
export function maxRelativeError(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  if (a.size !== b.size) return Infinity;
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (!y || y.length !== x.length) return Infinity;
    let d = 0;
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs(x[i] - y[i]));
      s = Math.max(s, Math.abs(y[i]));
    }
    worst = Math.max(worst, d / (s || 1));
  }
  return worst;
}

/** checks that collect what failed, for a scenario's `observed` column */
export class Checks {
  private readonly failed: string[] = [];
  private readonly seen: string[] = [];

  that(ok: boolean, observed: string): void {
    this.seen.push(observed);
    if (!ok) this.failed.push(observed);
  }

  result(): { observed: string; pass: boolean } {
    return {
      observed: this.failed.length
        ? `FAILED: ${this.failed.join('; ')} | ${this.seen.filter((s) => !this.failed.includes(s)).join('; ')}`
        : this.seen.join('; '),
      pass: this.failed.length === 0,
    };
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
