import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parseSafetensors } from '@cim-forge/cim';
import { glooAvailable, startLocalRedisServers, TRANSPORT_NAMES, type TransportName } from '@cim-forge/collective';
import { testBackendChoice } from '@cim-forge/cim/testing';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const env = { ...process.env, CIM_BACKEND: testBackendChoice() };

function cim(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env,
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lastModel(out: string): Map<string, Float32Array> {
  const dir = join(out, 'checkpoints');
  const ids = readFileSync(join(dir, readdirLatest(dir), 'model.safetensors'));
  return new Map([...parseSafetensors(new Uint8Array(ids)).tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

function readdirLatest(dir: string): string {
  const ids = spawnSync('ls', [dir], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter((x) => x.startsWith('step-'))
    .sort();
  return ids.at(-1)!;
}

/**
 * How far weights `b` are from `a`: the worst per-tensor max |Δ| ÷ the tensor's max |a|, and
 * ‖Δw‖/‖w‖ over all weights.
 * The key part of every attention bias has an exactly-zero gradient (adding a constant to all of
 * a row's logits changes nothing), so its computed gradient is float noise whose sign depends on
 * summation order, and Adam turns noise into full ±lr steps (fixtures/README.md). Those
 * slices are excluded from the per-tensor figure.
 */
function weightsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { worst: number; worstName: string; relative: number } {
  const keySlice = (name: string, n: number): [number, number] | undefined =>
    name.endsWith('attn.qkv.bias') ? [n / 3, (2 * n) / 3] : name.endsWith('attn.kv.bias') ? [0, n / 2] : undefined;
  let worst = 0;
  let worstName = '';
  let num = 0;
  let den = 0;
  assert.ok(a.has('blocks_c.0.attn.qkv.weight') && a.has('decoder_pred_mask.0.weight'), 'online, target and decoder compared');
  for (const [name, x] of a) {
    const y = b.get(name)!;
    const skip = keySlice(name, x.length);
    let d = 0;
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      num += (x[i] - y[i]) ** 2;
      den += x[i] ** 2;
      if (skip && i >= skip[0] && i < skip[1]) continue;
      d = Math.max(d, Math.abs(x[i] - y[i]));
      s = Math.max(s, Math.abs(x[i]));
    }
    if (d / (s || 1) > worst) [worst, worstName] = [d / (s || 1), name];
  }
  return { worst, worstName, relative: Math.sqrt(num / den) };
}

const common = [
  'pretrain',
  '--preset',
  'smoke',
  '--limit',
  '256',
  '--max-steps',
  '3',
  '--workers',
  '0',
  '--eval-images',
  '0',
  '--checkpoint-every',
  '0',
];
let oneRankOut: string | undefined;
/** the reference: 1 rank × batch 8, 3 steps (run once, shared by the equivalence tests) */
function oneRank(): string {
  if (oneRankOut) return oneRankOut;
  const out = mkdtempSync(join(tmpdir(), 'cim-1rank-'));
  const b = cim(...common, '--batch-size', '8', '--out', out);
  assert.equal(b.code, 0, b.stderr);
  return (oneRankOut = out);
}

/**
 * The equivalence and chaos tests run on every transport: Redis Streams (the default; the test
 * names without a suffix), and Gloo (`--transport gloo`, skipped when the addon is not built).
 */
function onTransports(name: string, body: (transport: TransportName, flags: string[]) => Promise<void>): void {
  for (const transport of TRANSPORT_NAMES) {
    const skip = transport === 'gloo' && !glooAvailable() && 'the Gloo addon is not built (libgloo-dev; node scripts/native-gloo.mjs)';
    const flags = transport === 'redis' ? [] : ['--transport', transport];
    test(transport === 'redis' ? name : `${name} [transport ${transport}]`, { skip }, () => body(transport, flags));
  }
}

/** connections a redis-server has accepted so far */
async function connectionsReceived(url: string): Promise<number> {
  const r = new Redis(url, { protocol: 2 });
  try {
    return Number(/total_connections_received:(\d+)/.exec(await r.info('stats'))![1]);
  } finally {
    r.disconnect();
  }
}

onTransports('2 ranks × batch 4 end where 1 rank × batch 8 ends, and hold bit-identical weights', async (_transport, flags) => {
  const two = await mkdtemp(join(tmpdir(), 'cim-2ranks-'));
  const a = cim(...common, ...flags, '--ranks', '2', '--batch-size', '4', '--out', two);
  assert.equal(a.code, 0, a.stderr);
  const summary = JSON.parse(a.stdout.trim().split('\n').at(-1)!);
  assert.equal(summary.identicalWeights, true, 'both ranks end with the same sha256 of their weights');
  assert.equal(summary.perRank.length, 2);
  assert.match(a.stderr, /batch {8}4 × 1 accumulation × 2 rank\(s\) = effective 8/);
  const d = weightsDiff(lastModel(oneRank()), lastModel(two));
  assert.ok(d.worst <= 1e-5, `2-rank vs 1-rank: ${d.worstName} differs by ${d.worst} of its largest value`);
  assert.ok(d.relative <= 1e-5, `2-rank vs 1-rank: ‖Δw‖/‖w‖ = ${d.relative} over all weights`);
  // every rank logged its own step and all-reduce timings and bytes
  for (const r of [0, 1]) {
    const lines = readFileSync(join(two, 'ranks', `rank-${r}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    for (const l of lines) {
      assert.equal(l.rank, r);
      assert.ok(l.allreduce_bytes > 100_000 && l.allreduce_seconds > 0, JSON.stringify(l));
    }
  }
  assert.ok(!existsSync(join(two, 'ranks', 'rank-2.jsonl')));
});

onTransports(
  '2 nodes × 2 ranks over 2 Redis shards (node-local sums, leaders only on Redis) end where 1 rank × batch 8 ends',
  async (transport, flags) => {
    const servers = await startLocalRedisServers(2);
    try {
      const redis = servers.urls.join(',');
      const before = await Promise.all(servers.urls.map(connectionsReceived));
      // float32 on the wire: the same tolerance as the 2-rank gang (Gloo always sends float32)
      const f32 = await mkdtemp(join(tmpdir(), 'cim-2x2-f32-'));
      const a = cim(
        ...common,
        ...flags,
        '--ranks',
        '4',
        '--nodes',
        '2',
        '--redis',
        redis,
        '--wire',
        'float32',
        '--batch-size',
        '2',
        '--out',
        f32,
      );
      assert.equal(a.code, 0, a.stderr);
      const summary = JSON.parse(a.stdout.trim().split('\n').at(-1)!);
      assert.equal(summary.identicalWeights, true, 'all 4 ranks end with the same sha256 of their weights');
      assert.equal(summary.perRank.length, 4);
      const after = await Promise.all(servers.urls.map(connectionsReceived));
      if (transport === 'gloo') {
        // the leaders' bytes went rank to rank: shard 1 never saw a connection (+ 1: this count's own)
        assert.equal(after[1] - before[1], 1, 'connections to shard 1');
      } else {
        // shard 1 only ever saw the 2 node leaders (a writer and a reader each); shard 0 also the
        // one-time rendezvous of all 4 ranks (2 connections each); + 1: this count's own connection
        assert.equal(after[1] - before[1], 2 * 2 + 1, 'connections to shard 1');
        assert.equal(after[0] - before[0], 2 * 2 + 4 * 2 + 1, 'connections to shard 0');
      }
      const d = weightsDiff(lastModel(oneRank()), lastModel(f32));
      assert.ok(d.worst <= 1e-5, `2×2 float32 vs 1 rank: ${d.worstName} differs by ${d.worst} of its largest value`);
      assert.ok(d.relative <= 1e-5, `2×2 float32 vs 1 rank: ‖Δw‖/‖w‖ = ${d.relative}`);
      if (transport === 'gloo') return;
      // the default wire across nodes is bfloat16: measured 2026-12-01 (wasm), worst tensor 5.9e-3 of its
      // largest value (a LayerNorm bias), ‖Δw‖/‖w‖ 5.0e-7 after 3 steps (docs/scaling.md)
      const bf = await mkdtemp(join(tmpdir(), 'cim-2x2-bf16-'));
      const b = cim(...common, '--ranks', '4', '--nodes', '2', '--redis', redis, '--batch-size', '2', '--out', bf);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(JSON.parse(b.stdout.trim().split('\n').at(-1)!).identicalWeights, true);
      const e = weightsDiff(lastModel(oneRank()), lastModel(bf));
      assert.ok(e.worst > d.worst && e.worst <= 2e-2, `2×2 bfloat16 vs 1 rank: ${e.worstName} differs by ${e.worst} of its largest value`);
      assert.ok(e.relative <= 1e-5, `2×2 bfloat16 vs 1 rank: ‖Δw‖/‖w‖ = ${e.relative}`);
    } finally {
      await servers.stop();
    }
  },
);

onTransports(
  '2 nodes × 2 ranks, 2 shards: the leader of node 1 killed mid-step stops the gang at once, named',
  async (_transport, flags) => {
    const servers = await startLocalRedisServers(2);
    const out = await mkdtemp(join(tmpdir(), 'cim-2x2-kill-'));
    const socketDirs = () =>
      readdirSync(tmpdir())
        .filter((d) => d.startsWith('cim-nodes-'))
        .sort();
    const dirsBefore = socketDirs();
    try {
      const tiny = join(out, '..', `${out.split('/').at(-1)}-tiny.json`);
      writeFileSync(
        tiny,
        JSON.stringify({ modelOverrides: { embedDim: 16, depth: 1, numHeads: 2, decoderEmbedDim: 16, decoderNumHeads: 2 } }),
      );
      const p = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'apps/cli/src/main.ts',
          'pretrain',
          ...flags,
          '--preset',
          'smoke',
          '--config',
          tiny,
          '--batch-size',
          '2',
          '--ranks',
          '4',
          '--nodes',
          '2',
          '--redis',
          servers.urls.join(','),
          '--workers',
          '0',
          '--collective-timeout',
          '5000',
          '--out',
          out,
        ],
        { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
      const rankLog = join(out, 'ranks', 'rank-2.jsonl');
      while (socketDirs().length === dirsBefore.length) {
        if (p.exitCode !== null) throw new Error(`the gang ended early: ${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const t0 = Date.now();
      while (!existsSync(rankLog) || readFileSync(rankLog, 'utf8').length === 0) {
        if (Date.now() - t0 > 240_000) throw new Error(`rank 2 never stepped: ${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const pids = spawnSync('pgrep', ['-f', '--', `--rank 2 --world-size 4 .*--out ${out}`], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
      assert.equal(pids.length, 1, `rank 2 process: ${pids}`);
      const killedAt = Date.now();
      process.kill(Number(pids[0]), 'SIGKILL');
      const code = await exited;
      const seconds = (Date.now() - killedAt) / 1000;
      assert.equal(code, 1);
      // the launcher hears of rank 2 first, or of rank 3, which lost its leader
      assert.match(
        stderr,
        /rank 2 \(node-1, node leader\) was killed \(SIGKILL\): stopping the gang|the node leader \(rank 2\) on node "node-1" is gone/,
      );
      assert.ok(seconds < 15, `the gang stopped ${seconds} s after the kill`);
      // the killed leader's socket file went with the gang's socket directory
      assert.deepEqual(socketDirs(), dirsBefore);
    } finally {
      await servers.stop();
    }
  },
);

onTransports('a rank killed with SIGKILL stops the gang with a message naming it, no hang', async (_transport, flags) => {
  const out = await mkdtemp(join(tmpdir(), 'cim-kill-'));
  const t0 = Date.now();
  const tiny = join(out, '..', `${out.split('/').at(-1)}-tiny.json`);
  writeFileSync(tiny, JSON.stringify({ modelOverrides: { embedDim: 16, depth: 1, numHeads: 2, decoderEmbedDim: 16, decoderNumHeads: 2 } }));
  const p = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'apps/cli/src/main.ts',
      'pretrain',
      ...flags,
      '--preset',
      'smoke',
      '--config',
      tiny,
      '--batch-size',
      '2',
      '--ranks',
      '2',
      '--workers',
      '0',
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
  const pids = spawnSync('pgrep', ['-f', '--', `--rank 1 --world-size 2 .*--out ${out}`], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean);
  assert.equal(pids.length, 1, `rank 1 process: ${pids}`);
  const killedAt = Date.now();
  process.kill(Number(pids[0]), 'SIGKILL');
  const code = await new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  const seconds = (Date.now() - killedAt) / 1000;
  assert.equal(code, 1);
  assert.match(stderr, /rank 1 was killed \(SIGKILL\): stopping the gang/);
  assert.ok(seconds < 15, `the gang stopped ${seconds} s after the kill`);
});

function redisInfo(): { keys: number; usedMemory: number } {
  const mem = spawnSync('redis-cli', ['-h', '127.0.0.1', 'info', 'memory'], { encoding: 'utf8' }).stdout;
  const keys = spawnSync('redis-cli', ['-h', '127.0.0.1', '--scan', '--pattern', 'cim:cli-*'], { encoding: 'utf8' }).stdout.trim();
  return { keys: keys ? keys.split('\n').length : 0, usedMemory: Number(/used_memory:(\d+)/.exec(mem)![1]) };
}

test(
  'Redis memory after a 200-step 2-rank run is back where it started',
  { skip: spawnSync('redis-cli', ['--version']).status !== 0 && 'redis-cli not installed' },
  async () => {
    const before = redisInfo();
    const out = await mkdtemp(join(tmpdir(), 'cim-200-'));
    const tiny = join(out, 'tiny.json');
    writeFileSync(
      tiny,
      JSON.stringify({ modelOverrides: { embedDim: 16, depth: 1, numHeads: 2, decoderEmbedDim: 16, decoderNumHeads: 2 } }),
    );
    const r = cim(
      'pretrain',
      '--preset',
      'smoke',
      '--config',
      tiny,
      '--limit',
      '1024',
      '--batch-size',
      '2',
      '--ranks',
      '2',
      '--max-steps',
      '200',
      '--workers',
      '0',
      '--eval-images',
      '0',
      '--checkpoint-every',
      '0',
      '--out',
      out,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.trim().split('\n').at(-1)!).steps, 200);
    const after = redisInfo();
    assert.equal(after.keys, before.keys, `run keys left in Redis: ${after.keys - before.keys}`);
    // used_memory is server-wide and other tests may share the server: allow 1 MiB of drift
    assert.ok(after.usedMemory - before.usedMemory < 1 << 20, `used_memory ${before.usedMemory} → ${after.usedMemory}`);
  },
);

test('Redis unreachable: --ranks fails fast with a message naming the URL, no hang', async () => {
  const out = await mkdtemp(join(tmpdir(), 'cim-noredis-'));
  const t0 = Date.now();
  const r = cim(
    'pretrain',
    '--preset',
    'smoke',
    '--ranks',
    '2',
    '--redis',
    'redis://127.0.0.1:6390',
    '--max-steps',
    '1',
    '--workers',
    '0',
    '--out',
    out,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Redis at redis:\/\/127\.0\.0\.1:6390 is unreachable/);
  assert.ok(Date.now() - t0 < 60_000);
});
