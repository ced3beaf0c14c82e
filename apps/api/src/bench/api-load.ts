/**
 * `npm run bench:api-load`: a bounded load test of the API on loopback (issue 24 item 4). It starts
 * the real API (`apps/api/src/main.ts`, a child process with production defaults) on a throwaway
 * PostgreSQL database, a private Redis key prefix and an s3rver, then drives it with plain Node
 * HTTP clients (keep-alive), every request to 127.0.0.1, in three phases:
 *
 *   idle   team B alone: 10 clients listing its runs and reading one          → B's idle latency
 *   flood  team A floods POST /v1/runs (16 clients) while B goes on as before → B's latency under a flood
 *   mixed  the flood, plus 200 clients of team C listing runs and reading one,
 *          plus 50 open /v1/stream connections (10 teams × 5), B as before     → everyone's latency
 *
 * Each client has its own loopback source address (127.0.x.y), as separate machines would, so the
 * per-address limit (CIM_RATE_LIMIT_IP_PER_MINUTE) and the per-token limit apply as in production:
 * a flood is answered 429, never 5xx. Every phase is bounded in time (--seconds) and in requests
 * (--max-requests per client). Prints one JSON line per phase and group (p50/p99 in ms, status
 * counts) and the checks: no 5xx anywhere, and B's p50 and p99 during the flood within 2× idle.
 *
 *   npm run bench:api-load -- [--seconds 16] [--readers 200] [--streams 50] [--flooders 16]
 *                              [--b-users 10] [--b-every-ms 150] [--phases idle,flood,mixed] [--warmup-seconds 3]
 *
 * B's defaults (10 users, one request per 150 ms each) give ~1 000 requests per 16 s phase, so its
 * p99 is its 10th slowest request, not its slowest one or two.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { migrate } from '@cim-forge/db';
import { runsQueue } from '@cim-forge/queue';
import { createTempDatabase } from '@cim-forge/db/testing';
import { startS3TestServer } from '@cim-forge/storage/testing';
import { processEnv } from '@cim-forge/settings';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '16' },
    readers: { type: 'string', default: '200' },
    streams: { type: 'string', default: '50' },
    flooders: { type: 'string', default: '16' },
    'max-requests': { type: 'string', default: '20000' },
    'b-users': { type: 'string', default: '10' },
    'b-every-ms': { type: 'string', default: '150' },
    phases: { type: 'string', default: 'idle,flood,mixed' },
    'warmup-seconds': { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run bench:api-load -- [--seconds N] [--readers N] [--streams N] [--flooders N] [--max-requests N]\n' +
      '                           [--b-users N] [--b-every-ms MS] [--phases idle,flood,mixed] [--warmup-seconds S]\n' +
      'Starts the real API on loopback against a throwaway database and measures p50/p99 latency and status counts per phase.\n' +
      'Checks: no 5xx, and team B stays within 2x its idle latency while team A floods submissions. Exit 1 when a check fails.',
  );
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const READERS = Number(values.readers);
const STREAMS = Number(values.streams);
const FLOODERS = Number(values.flooders);
const MAX_REQUESTS = Number(values['max-requests']);
const B_USERS = Number(values['b-users']);
/** a B user's pace: one request per B_EVERY_MS each (default 150 ms: 400 a minute, under the token limit of 600) */
const B_EVERY_MS = Number(values['b-every-ms']);
const PHASES = new Set(values.phases.split(','));
const WARMUP_S = Number(values['warmup-seconds']);
if (!(WARMUP_S >= 0 && WARMUP_S <= 60)) throw new Error('--warmup-seconds is from 0 to 60');
for (const p of PHASES) if (!['idle', 'flood', 'mixed'].includes(p)) throw new Error(`--phases: unknown phase "${p}" (idle, flood, mixed)`);
if (!PHASES.has('idle') || !PHASES.has('flood')) throw new Error('--phases must include idle and flood (the fairness check compares them)');
for (const [k, v] of Object.entries({ SECONDS, READERS, STREAMS, FLOODERS, MAX_REQUESTS, B_USERS, B_EVERY_MS })) {
  if (!Number.isInteger(v) || v < 1 || v > 100_000) throw new Error(`--${k.toLowerCase()} must be a whole number from 1 to 100000`);
}
if (SECONDS > 120) throw new Error('--seconds is at most 120 (three phases run)');
if (READERS + FLOODERS + STREAMS > 250 * 250) throw new Error('too many clients for the loopback address plan');

const print = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'api-load', ...o }));

/** the n-th client's own loopback source address: 127.<1 + n / 250>.<1 + n % 250>.1 — never outside 127.0.0.0/8 */
let nextAddress = 0;
function loopbackAddress(): string {
  const n = nextAddress++;
  return `127.${1 + Math.floor(n / 250)}.${1 + (n % 250)}.1`;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Reply {
  status: number;
  body: string;
}

/** one keep-alive connection from one source address, as one client machine */
class Client {
  private readonly agent: http.Agent;
  constructor(
    private readonly port: number,
    private readonly token: string,
    readonly address = loopbackAddress(),
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: this.address });
  }

  request(method: string, path: string, body?: unknown): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** latencies (ms) and status counts of one group in one phase */
class Tally {
  readonly ms: number[] = [];
  readonly codes = new Map<string, number>();
  add(status: number | string, ms: number): void {
    this.ms.push(ms);
    this.codes.set(String(status), (this.codes.get(String(status)) ?? 0) + 1);
  }
  pct(p: number): number {
    if (this.ms.length === 0) return NaN;
    const s = [...this.ms].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 100) / 100;
  }
  get fivexx(): number {
    let n = 0;
    for (const [c, k] of this.codes) if (c.startsWith('5') || c === 'error') n += k;
    return n;
  }
  summary() {
    return { requests: this.ms.length, p50_ms: this.pct(50), p99_ms: this.pct(99), codes: Object.fromEntries(this.codes) };
  }
}

/** runs `step` until the deadline or `MAX_REQUESTS`, timing each: back to back, or one per `everyMs` (a paced user) */
async function loop(deadline: number, tally: Tally, step: (i: number) => Promise<Reply>, everyMs = 0): Promise<void> {
  for (let i = 0; i < MAX_REQUESTS && performance.now() < deadline; i++) {
    const t0 = performance.now();
    try {
      const r = await step(i);
      tally.add(r.status, performance.now() - t0);
    } catch {
      tally.add('error', performance.now() - t0);
    }
    const wait = t0 + everyMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** an open /v1/stream that counts its bytes until closed */
function openStream(port: number, token: string): Promise<{ status: number; bytes: () => number; close: () => void }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const req = http.get(
      { host: '127.0.0.1', port, path: '/v1/stream', localAddress: loopbackAddress(), headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('error', () => {});
        resolve({ status: res.statusCode ?? 0, bytes: () => bytes, close: () => req.destroy() });
      },
    );
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
  });
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the API exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((r) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/readyz' }, (res) => {
        res.resume();
        r(res.statusCode === 200);
      });
      req.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the API did not become ready within 60 s');
}

const tmp = await createTempDatabase();
const s3 = await startS3TestServer();
let api: ChildProcess | undefined;
let exitCode = 0;
const prefix = `cimbench-${randomBytes(4).toString('hex')}`;
const redisUrl = processEnv().REDIS_URL ?? 'redis://127.0.0.1:6379';
try {
  await migrate(tmp.url);
  const port = await freePort();
  const adminToken = `bench-admin-${randomBytes(18).toString('base64url')}`;
  api = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../main.ts', import.meta.url))], {
    env: {
      PATH: processEnv().PATH,
      HOME: processEnv().HOME,
      DATABASE_URL: tmp.url,
      REDIS_URL: redisUrl,
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      PORT: String(port),
      HOST: '127.0.0.1',
      CIM_ADMIN_TOKEN: adminToken,
      CIM_QUEUE_PREFIX: prefix,
      CIM_METRICS_TOKEN: `bench-metrics-${randomBytes(18).toString('base64url')}`,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitReady(port, api);

  const admin = new Client(port, adminToken);
  const team = async (name: string) => {
    const t = await admin.request('POST', '/v1/teams', { name });
    if (t.status !== 201) throw new Error(`team: ${t.status} ${t.body}`);
    const teamId = JSON.parse(t.body).id as string;
    const token = async () => {
      const k = await admin.request('POST', '/v1/tokens', { teamId });
      if (k.status !== 201) throw new Error(`token: ${k.status} ${k.body}`);
      return JSON.parse(k.body).token as string;
    };
    return { teamId, token };
  };
  const submitBody = { kind: 'pretrain', preset: 'smoke' };
  // B: a few runs of its own; C: 20 runs the readers list and read
  const b = await team('bench-b');
  const bToken = await b.token();
  const bSeed = new Client(port, bToken);
  const bRuns: string[] = [];
  for (let i = 0; i < 5; i++) bRuns.push(JSON.parse((await bSeed.request('POST', '/v1/runs', submitBody)).body).id);
  const c = await team('bench-c');
  const cSeedToken = await c.token();
  const cSeed = new Client(port, cSeedToken);
  const cRuns: string[] = [];
  for (let i = 0; i < 20; i++) cRuns.push(JSON.parse((await cSeed.request('POST', '/v1/runs', submitBody)).body).id);
  const a = await team('bench-a');
  const aToken = await a.token();

  // B's pattern, the same in every phase: B_USERS users (a token and an address each), each listing its runs or
  // reading one every B_EVERY_MS (under the token limit): with the defaults ~1 000 requests in a 16 s phase
  const bClients = [new Client(port, bToken)];
  while (bClients.length < B_USERS) bClients.push(new Client(port, await b.token()));
  const bStep = (cl: Client) => (i: number) =>
    i % 2 === 0 ? cl.request('GET', '/v1/runs?limit=20') : cl.request('GET', `/v1/runs/${bRuns[i % bRuns.length]}`);
  const flood = (deadline: number, tally: Tally) =>
    Array.from({ length: FLOODERS }, () => {
      const cl = new Client(port, aToken);
      return loop(deadline, tally, () => cl.request('POST', '/v1/runs', submitBody)).finally(() => cl.close());
    });

  print({
    phase: 'setup',
    cpus: cpus().length,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    seconds: SECONDS,
    readers: READERS,
    streams: STREAMS,
    flooders: FLOODERS,
    b_users: B_USERS,
    b_every_ms: B_EVERY_MS,
    phases: [...PHASES],
    warmup_s: WARMUP_S,
  });

  // warm-up, not timed: B's routes compiled and its tokens' rows cached before the idle phase, so
  // the idle p99 is B's steady latency rather than the first requests after start
  const warm = new Tally();
  const warmDeadline = performance.now() + WARMUP_S * 1000;
  await Promise.all(bClients.map((cl) => loop(warmDeadline, warm, bStep(cl), B_EVERY_MS)));

  // idle
  const bIdle = new Tally();
  let deadline = performance.now() + SECONDS * 1000;
  await Promise.all(bClients.map((cl) => loop(deadline, bIdle, bStep(cl), B_EVERY_MS)));
  print({ phase: 'idle', group: `team B (${B_USERS} clients)`, ...bIdle.summary() });

  // flood
  const bFlood = new Tally();
  const aFlood = new Tally();
  deadline = performance.now() + SECONDS * 1000;
  await Promise.all([...bClients.map((cl) => loop(deadline, bFlood, bStep(cl), B_EVERY_MS)), ...flood(deadline, aFlood)]);
  print({ phase: 'flood', group: `team B (${B_USERS} clients)`, ...bFlood.summary() });
  print({ phase: 'flood', group: `team A flooding POST /v1/runs (${FLOODERS} clients)`, ...aFlood.summary() });

  const cMixed = new Tally();
  const bMixed = new Tally();
  const aMixed = new Tally();
  let streamsAlive = 0;
  let streamFivexx = 0;
  if (PHASES.has('mixed')) {
    // mixed: streams first, then everyone at once
    const streamTeams = Math.ceil(STREAMS / 5);
    const streams: Awaited<ReturnType<typeof openStream>>[] = [];
    for (let t = 0; t < streamTeams; t++) {
      const s = await team(`bench-s${t}`);
      const token = await s.token();
      for (let i = 0; i < 5 && streams.length < STREAMS; i++) streams.push(await openStream(port, token));
    }
    const readerTokens: string[] = [];
    for (let i = 0; i < READERS; i++) readerTokens.push(await c.token());
    const readers = readerTokens.map((t) => new Client(port, t));
    deadline = performance.now() + SECONDS * 1000;
    await Promise.all([
      ...readers.map((cl, n) =>
        loop(deadline, cMixed, (i) =>
          i % 2 === 0 ? cl.request('GET', '/v1/runs?limit=20') : cl.request('GET', `/v1/runs/${cRuns[(n + i) % cRuns.length]}`),
        ),
      ),
      ...bClients.map((cl) => loop(deadline, bMixed, bStep(cl), B_EVERY_MS)),
      ...flood(deadline, aMixed),
    ]);
    const streamStatus = new Map<number, number>();
    for (const s of streams) streamStatus.set(s.status, (streamStatus.get(s.status) ?? 0) + 1);
    streamsAlive = streams.filter((s) => s.status === 200).length;
    const streamBytes = streams.reduce((n, s) => n + s.bytes(), 0);
    for (const s of streams) s.close();
    for (const cl of [...readers, ...bClients, admin, bSeed, cSeed]) cl.close();
    print({ phase: 'mixed', group: `team C readers (${READERS} clients, list + read one run)`, ...cMixed.summary() });
    print({ phase: 'mixed', group: `team B (${B_USERS} clients)`, ...bMixed.summary() });
    print({ phase: 'mixed', group: `team A flooding POST /v1/runs (${FLOODERS} clients)`, ...aMixed.summary() });
    print({
      phase: 'mixed',
      group: `open /v1/stream (${STREAMS})`,
      codes: Object.fromEntries(streamStatus),
      open: streamsAlive,
      bytes: streamBytes,
    });
    streamFivexx = streams.filter((s) => s.status >= 500).length;
  } else {
    for (const cl of [...bClients, admin, bSeed, cSeed]) cl.close();
  }

  const tallies = [bIdle, bFlood, aFlood, cMixed, bMixed, aMixed];
  const fivexx = tallies.reduce((n, t) => n + t.fivexx, 0) + streamFivexx;
  const checks = {
    no_5xx: fivexx === 0,
    flood_b_p50_within_2x_idle: bFlood.pct(50) <= 2 * bIdle.pct(50),
    flood_b_p99_within_2x_idle: bFlood.pct(99) <= 2 * bIdle.pct(99),
    flood_answered_429: (aFlood.codes.get('429') ?? 0) > 0,
    streams_open: !PHASES.has('mixed') || streamsAlive === STREAMS,
  };
  print({
    phase: 'checks',
    fivexx,
    b_p50_ratio: Math.round((bFlood.pct(50) / bIdle.pct(50)) * 100) / 100,
    b_p99_ratio: Math.round((bFlood.pct(99) / bIdle.pct(99)) * 100) / 100,
    ...checks,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  });
  if (!Object.values(checks).every(Boolean)) exitCode = 1;
} finally {
  if (api && api.exitCode === null) {
    api.kill('SIGTERM');
    await new Promise((r) => api!.once('exit', r));
  }
  // the queued runs' jobs under this run's private prefix
  const q = runsQueue({ redisUrl, prefix });
  await q.obliterate({ force: true }).catch(() => {});
  await q.close();
  await s3.close();
  await tmp.drop();
}
process.exit(exitCode);
