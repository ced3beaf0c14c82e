/**
 * The raw TCP bus bandwidth of a namespace cluster's links: what a perfect ring all-reduce would
 * reach on them. One Node process per node namespace; node i streams `bytesPerNode` bytes to node
 * i+1 over one TCP connection while it receives as many from node i−1, all nodes at once. A ring
 * all-reduce of S bytes over M nodes moves 2·S·(M−1)/M bytes through each node's link each way,
 * so with bytesPerNode = 2·S·(M−1)/M the bus bandwidth is bytesPerNode / t (nccl-tests' busbw).
 * Per rep the slowest node decides (after one warm-up rep); the result is the median.
 * Run as a script it is one node's side: argv[2] = RingNodeConfig; a stdin line starts a rep.
 */
import { connect, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NetnsCluster } from './netns-cluster.ts';

interface RingNodeConfig {
  address: string;
  next: string;
  port: number;
  bytes: number;
}

export interface RawRingResult {
  bytesPerNode: number;
  /** per rep, the slowest node's seconds */
  seconds: number[];
  /** bytesPerNode / median(seconds) */
  busBytesPerS: number;
}

const PORT = 47_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Measures the ring on the cluster's nodes (≥ 2): `reps` timed reps after one warm-up. */
export async function measureRawRing(cluster: NetnsCluster, bytesPerNode: number, reps: number): Promise<RawRingResult> {
  const nodes = cluster.nodes;
  if (nodes.length < 2) throw new Error('a ring needs at least 2 nodes');
  bytesPerNode = Math.max(1, Math.round(bytesPerNode));
  const self = fileURLToPath(import.meta.url);
  const lines: string[][] = nodes.map(() => []);
  let wake = () => {};
  const procs = nodes.map((node, i) => {
    const config: RingNodeConfig = { address: node.address, next: nodes[(i + 1) % nodes.length].address, port: PORT, bytes: bytesPerNode };
    const p = cluster.spawn(node.name, process.execPath, ['--import', 'tsx', self, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: p.stdout! }).on('line', (l) => {
      lines[i].push(l);
      wake();
    });
    p.on('exit', () => wake());
    p.stdin!.on('error', () => {}); // a node that died is reported by allSaid
    return p;
  });
  /** resolves when every node has printed `count` lines; rejects if one exits first or after 2 minutes */
  const allSaid = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`raw TCP ring: no answer within 120 s (lines: ${lines.map((l) => l.length)})`)),
        120_000,
      );
      wake = () => {
        const dead = procs.findIndex((p, i) => (p.exitCode !== null || p.signalCode !== null) && lines[i].length < count);
        if (dead >= 0)
          reject(new Error(`raw TCP ring: the process in ${nodes[dead].name} exited (${procs[dead].exitCode ?? procs[dead].signalCode})`));
        else if (lines.every((l) => l.length >= count)) resolve();
        else return;
        clearTimeout(timer);
      };
      wake();
    });
  try {
    await allSaid(1); // ready: listening and connected both ways
    const seconds: number[] = [];
    for (let rep = 0; rep <= reps; rep++) {
      procs.forEach((p) => p.stdin!.write('go\n'));
      await allSaid(rep + 2);
      const t = Math.max(...lines.map((l) => (JSON.parse(l[rep + 1]) as { seconds: number }).seconds));
      if (rep > 0) seconds.push(t);
    }
    return { bytesPerNode, seconds, busBytesPerS: bytesPerNode / median(seconds) };
  } finally {
    procs.forEach((p) => p.stdin!.end());
    setTimeout(() => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL')), 5000).unref();
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((res) => p.once('exit', res)) : undefined)));
  }
}

/** one node's side: accept the previous node, connect to the next, then one timed exchange per stdin line */
async function ringNode(c: RingNodeConfig): Promise<void> {
  const incoming = new Promise<Socket>((resolve, reject) => {
    const server = createServer((s) => {
      server.close();
      resolve(s);
    });
    server.on('error', reject);
    server.listen(c.port, c.address);
  });
  let out: Socket | undefined;
  for (let tries = 0; !out; tries++) {
    out = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(c.port, c.next, () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (!out) {
      if (tries > 200) throw new Error(`cannot connect to ${c.next}:${c.port}`);
      await new Promise((res) => setTimeout(res, 25));
    }
  }
  const sock = out;
  sock.setNoDelay(true);
  const prev = await incoming;
  let received = 0;
  let onData = () => {};
  prev.on('data', (d: Buffer) => {
    received += d.length;
    onData();
  });
  process.stdout.write('ready\n');
  const chunk = Buffer.alloc(Math.min(4 << 20, c.bytes), 1);
  let target = 0;
  for await (const _ of createInterface({ input: process.stdin })) {
    target += c.bytes;
    const t0 = performance.now();
    const got = new Promise<void>((resolve) => {
      onData = () => received >= target && resolve();
      onData();
    });
    for (let sent = 0; sent < c.bytes; sent += chunk.length) {
      const piece = sent + chunk.length <= c.bytes ? chunk : chunk.subarray(0, c.bytes - sent);
      if (!sock.write(piece)) await new Promise((res) => sock.once('drain', res));
    }
    await Promise.all([got, new Promise((res) => sock.write('', res))]);
    process.stdout.write(`${JSON.stringify({ seconds: (performance.now() - t0) / 1000 })}\n`);
  }
  sock.end();
  prev.destroy();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await ringNode(JSON.parse(process.argv[2]) as RingNodeConfig);
