// Across network namespaces on this machine: 3 nodes, each link shaped to 1 Gbit/s by tc tbf, a
// redis-server in the hub namespace, one rank process inside each node's namespace listening on its
// veth address. Root and Linux only (CI on the build machine runs as root); elsewhere the tests
// skip saying why. They assert results, never speed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { glooAvailable, glooUnavailableReason } from '../gloo-collective.ts';
import { sumInRankOrder } from '../sum-in-rank-order.ts';
import { randomGradients } from '../test-support.ts';
import { NETNS_PREFIX, NetnsCluster, netnsUnavailable, removeStaleNamespaces } from './netns-cluster.ts';
import type { NetnsRankConfig } from './netns-rank.ts';

const noNetns = netnsUnavailable();
const noGloo = noNetns ?? (glooAvailable() ? undefined : glooUnavailableReason());
const M = 3;
let cluster: NetnsCluster;
let redisUrl: string;
const dir = mkdtempSync(join(tmpdir(), 'cim-netns-'));
before(async () => {
  if (noNetns) return;
  cluster = NetnsCluster.create({ nodes: M, rate: '1gbit' });
  redisUrl = (await cluster.startRedis()).url;
});
after(() => {
  cluster?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const listNamespaces = () =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]);
const tsx = (script: string, arg: object) =>
  [process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), JSON.stringify(arg)]] as const;

/** JSON lines a child prints, and a way to wait for one (a hang guard, not a timing assertion) */
function events(child: ChildProcess) {
  const seen: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => seen.push(JSON.parse(l) as Record<string, unknown>));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pred: (ev: Record<string, unknown>) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const ev = seen.find(pred);
      if (ev) return ev;
      if (Date.now() > deadline) throw new Error(`no such event within ${ms} ms; saw ${JSON.stringify(seen.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { seen, exited, waitFor };
}

test(
  'namespace cluster: a tbf of 1 Gbit/s on both ends of each link, nodes reach each other and the hub; destroy and stale cleanup leave nothing',
  { skip: noNetns },
  () => {
    for (const [i, node] of cluster.nodes.entries()) {
      assert.match(cluster.run(node.name, 'tc', ['qdisc', 'show', 'dev', 'cim0']), /tbf .*rate 1Gbit/);
      assert.match(
        spawnSync('tc', ['-n', cluster.hub.name, 'qdisc', 'show', 'dev', `n${i}`], { encoding: 'utf8' }).stdout,
        /tbf .*rate 1Gbit/,
      );
      assert.match(
        cluster.run(node.name, 'ip', ['-4', 'addr', 'show', 'dev', 'cim0']),
        new RegExp(`inet ${node.address.replaceAll('.', '\\.')}/24`),
      );
    }
    // a node reaches the others and the hub's redis-server over its link
    assert.equal(cluster.run(cluster.nodes[2].name, 'redis-cli', ['-u', redisUrl, 'ping']).trim(), 'PONG');
    // a second cluster: destroy() kills what runs inside and deletes its namespaces
    const other = NetnsCluster.create({ nodes: 2 });
    const sleeper = other.spawn(other.nodes[0].name, 'sleep', ['600'], { stdio: 'ignore' });
    assert.ok(other.names.every((n) => listNamespaces().includes(n)));
    other.destroy();
    assert.ok(
      other.names.every((n) => !listNamespaces().includes(n)),
      'namespaces deleted',
    );
    assert.ok(sleeper.killed, 'the process inside was killed');
    // a namespace left by a dead process (kill -9 of a test runner) goes at the next start; live ones stay
    const dead = spawnSync('true').pid!;
    const stale = `${NETNS_PREFIX}${dead}-0`;
    spawnSync('ip', ['netns', 'add', stale]);
    assert.deepEqual(removeStaleNamespaces(), [stale]);
    assert.ok(!listNamespaces().includes(stale));
    assert.ok(
      cluster.names.every((n) => listNamespaces().includes(n)),
      "this process's namespaces stay",
    );
  },
);

test(
  'gloo (ring, halving-doubling) and redis across 3 namespaces: the same bits on every rank, the float64 mean within float32 rounding',
  { skip: noGloo },
  async () => {
    const length = 1_000_003; // 4 MB, not divisible by 3
    const cases: NetnsRankConfig['cases'] = [
      { transport: 'gloo', algorithm: 'ring' },
      { transport: 'gloo', algorithm: 'halving-doubling' },
      { transport: 'redis' },
    ];
    const steps = 2;
    const seed = 900;
    const ranks = cluster.nodes.map((node, rank) => {
      const config: NetnsRankConfig = {
        redisUrl,
        keyPrefix: 'cimnetns',
        runId: `mean-${process.pid}`,
        rank,
        worldSize: M,
        host: node.address,
        length,
        seed,
        steps,
        timeoutMs: 60_000,
        cases,
        outPrefix: join(dir, `rank${rank}`),
      };
      return events(cluster.spawn(node.name, ...tsx('./netns-rank.ts', config), { stdio: ['ignore', 'pipe', 'inherit'] }));
    });
    assert.deepEqual(await Promise.all(ranks.map((r) => r.exited)), [0, 0, 0]);
    const EPS = 2 ** -24;
    for (const [k, kase] of cases.entries()) {
      for (let step = 0; step < steps; step++) {
        const bits = ranks.map((_, r) => readFileSync(join(dir, `rank${r}.${k}.${step}`)));
        for (let r = 1; r < M; r++)
          assert.ok(bits[r].equals(bits[0]), `${JSON.stringify(kase)} step ${step}: rank ${r}'s mean differs from rank 0's`);
        const mean = new Float32Array(bits[0].buffer, bits[0].byteOffset, length);
        const inputs = ranks.map((_, r) => randomGradients(length, seed + 17 * r + step));
        if (kase.transport === 'redis') {
          // the Redis transport sums in rank order: exactly these bits
          assert.ok(Buffer.from(sumInRankOrder(inputs, new Float32Array(length), M).buffer).equals(bits[0]), 'redis: rank-order sum ÷ 3');
        }
        for (let i = 0; i < length; i++) {
          let ref = 0;
          let abs = 0;
          for (const a of inputs) {
            ref += a[i];
            abs += Math.abs(a[i]);
          }
          // M − 1 float32 additions in some order and one division, each rounding by at most EPS
          const bound = ((M - 1) * EPS * abs) / M + EPS * Math.abs(ref / M) + Number.MIN_VALUE;
          if (!(Math.abs(mean[i] - ref / M) <= bound))
            assert.fail(`${JSON.stringify(kase)} step ${step}, element ${i}: ${mean[i]} vs ${ref / M}`);
        }
      }
    }
  },
);

/** a Gloo gang of one rank a node, all-reducing 2M floats in a loop (fixtures/rank-loop.ts) until an operation fails */
function glooLoop(name: string, timeoutMs: number) {
  return cluster.nodes.map((node, rank) => {
    const options = {
      transport: 'gloo',
      redisUrl,
      keyPrefix: 'cimnetns',
      runId: `${name}-${process.pid}`,
      rank,
      worldSize: M,
      host: node.address,
      timeoutMs,
      length: 2_000_000,
    };
    return events(cluster.spawn(node.name, ...tsx('../fixtures/rank-loop.ts', options), { stdio: ['ignore', 'pipe', 'inherit'] }));
  });
}

test(
  'gloo across 3 namespaces: kill -9 of node 2 mid all-reduce stops the other nodes within the timeout, naming rank 2',
  { skip: noGloo },
  async () => {
    const timeoutMs = 3000;
    const ranks = glooLoop('kill', timeoutMs);
    await ranks[0].waitFor((ev) => ev.event === 'progress' && (ev.op as number) >= 10, 120_000);
    // everything on node 2 dies at once, as when the machine goes
    spawnSync('ip', ['netns', 'pids', cluster.nodes[2].name], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .forEach((pid) => process.kill(Number(pid), 'SIGKILL'));
    for (const r of [0, 1]) {
      const err = await ranks[r].waitFor((ev) => ev.event === 'error', timeoutMs + 30_000);
      console.log(`rank ${r} at op ${err.op}: ${err.message}`);
      assert.deepEqual(err.missingRanks, [2]);
      assert.match(err.message as string, /\brank 2\b/);
    }
    assert.deepEqual(await Promise.all([ranks[0].exited, ranks[1].exited]), [0, 0], 'the survivors closed and exited');
  },
);

test(
  'gloo across 3 namespaces: node 2 cut off the network mid all-reduce (its link down) stops the others within the timeout, naming rank 2',
  { skip: noGloo },
  async () => {
    const timeoutMs = 3000;
    const node2 = cluster.nodes[2].name;
    const ranks = glooLoop('cut', timeoutMs);
    try {
      await ranks[0].waitFor((ev) => ev.event === 'progress' && (ev.op as number) >= 10, 120_000);
      cluster.run(node2, 'ip', ['link', 'set', 'cim0', 'down']); // no FIN, no RST: the peers only see silence
      for (const r of [0, 1]) {
        const err = await ranks[r].waitFor((ev) => ev.event === 'error', timeoutMs + 30_000);
        console.log(`rank ${r} at op ${err.op}: ${err.message}`);
        assert.deepEqual(err.missingRanks, [2]);
        assert.match(err.message as string, /\brank 2\b/);
      }
      assert.deepEqual(await Promise.all([ranks[0].exited, ranks[1].exited]), [0, 0], 'the survivors closed and exited');
    } finally {
      spawnSync('ip', ['netns', 'pids', node2], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .forEach((pid) => process.kill(Number(pid), 'SIGKILL'));
      cluster.run(node2, 'ip', ['link', 'set', 'cim0', 'up']);
    }
  },
);
