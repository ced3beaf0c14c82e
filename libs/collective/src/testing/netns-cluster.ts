/**
 * Network namespaces as cluster nodes on one machine (Linux, root): a hub namespace and M node
 * namespaces, named `cimns-<pid>-<n>` (n counts up in the process), each node with one veth link
 * `cim0` (10.213.<c>.<i+1>/24) to a bridge in the hub (the bridge holds 10.213.<c>.254, where a
 * Redis can listen), and
 * optionally a `tc … tbf` rate on every node's link in both directions (the node's egress and the
 * hub's port towards it): a full-duplex NIC of that rate. Nothing is added to the root namespace.
 * Processes run inside a namespace through `ip netns exec`; `destroy()` (idempotent) kills them and
 * every other process still in the namespaces, then deletes the namespaces. It also runs on exit
 * and on SIGINT/SIGTERM; namespaces a killed process left (its pid is dead) are removed by the
 * next `NetnsCluster.create` on the machine. Used by the namespace tests and
 * `npm run bench:allreduce -- --transport gloo`.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const NETNS_PREFIX = 'cimns-';

export interface NetnsNode {
  /** the namespace's name */
  name: string;
  /** its address on the cluster's /24 */
  address: string;
}

export interface NetnsClusterOptions {
  nodes: number;
  /** tc rate of every node's link, each direction (`1gbit`, `500mbit`, `100mbps`…); omit: unshaped veth */
  rate?: string;
}

/** Why namespaces cannot be used here (the tests skip saying so), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  const uid = process.getuid?.();
  if (uid !== 0) return `network namespaces need root (uid ${uid})`;
  for (const [cmd, args] of [
    ['ip', ['netns', 'list']],
    ['tc', ['-V']],
  ] as const) {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.error) return `no \`${cmd}\` command (iproute2): ${r.error.message}`;
    if (r.status !== 0) return `\`${cmd} ${args.join(' ')}\` failed: ${r.stderr.trim()}`;
  }
  return undefined;
}

const UNITS: Record<string, number> = {
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  tbit: 1e12 / 8,
  bps: 1,
  kbps: 1e3,
  mbps: 1e6,
  gbps: 1e9,
};

/** a tc rate (`1gbit`, `250mbit`, `100mbps`; tc's decimal units) in bytes per second; throws on anything else */
export function parseRate(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]+)$/i.exec(rate.trim());
  const unit = m && UNITS[m[2].toLowerCase()];
  if (!m || !unit || !(Number(m[1]) > 0))
    throw new Error(`rate must be a number and a tc unit (${Object.keys(UNITS).join(', ')}), e.g. 1gbit; got ${rate}`);
  return Number(m[1]) * unit;
}

/** runs a command, returns its stdout; throws with its stderr */
function sh(command: string, args: readonly string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${command} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** the machine's namespace names */
function namespaces(): string[] {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}

/** whether a process runs with this pid (a zombie, killed but not yet reaped, does not) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** kills every process inside the namespace, then deletes it (no error if it is gone already) */
function removeNamespace(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split('\n').filter(Boolean).map(Number))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  spawnSync('ip', ['netns', 'del', name]);
}

/** Deletes the `cimns-<pid>-*` namespaces whose process is dead (left by a kill -9); returns their names. */
export function removeStaleNamespaces(): string[] {
  const stale = namespaces().filter((n) => {
    const pid = Number(n.slice(NETNS_PREFIX.length).split('-')[0]);
    return n.startsWith(NETNS_PREFIX) && Number.isInteger(pid) && pid > 0 && !alive(pid);
  });
  stale.forEach(removeNamespace);
  return stale;
}

const live = new Set<NetnsCluster>();
let seq = 0;
let namespaceCount = 0;
const destroyAll = () => [...live].forEach((c) => c.destroy());
function onSignal(signal: NodeJS.Signals): void {
  destroyAll();
  process.off(signal, onSignal);
  // die of the signal as without us, unless someone else handles it
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}
function watchExit(on: boolean): void {
  const f = on ? process.on.bind(process) : process.off.bind(process);
  f('exit', destroyAll);
  f('SIGINT', onSignal);
  f('SIGTERM', onSignal);
}

export class NetnsCluster {
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(
    readonly hub: NetnsNode,
    readonly nodes: readonly NetnsNode[],
    /** the tc rate of each link, or undefined (unshaped) */
    readonly rate: string | undefined,
  ) {}

  /** Builds the namespaces, links, addresses and shaping; throws (having removed what it made) when any step fails. */
  static create(o: NetnsClusterOptions): NetnsCluster {
    if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 250) throw new Error(`nodes must be 1…250, got ${o.nodes}`);
    if (o.rate !== undefined) parseRate(o.rate);
    const why = netnsUnavailable();
    if (why) throw new Error(why);
    removeStaleNamespaces();
    const c = ++seq;
    const net = `10.213.${c % 256}`;
    const name = () => `${NETNS_PREFIX}${process.pid}-${namespaceCount++}`;
    const hub = { name: name(), address: `${net}.254` };
    const nodes = Array.from({ length: o.nodes }, (_, i) => ({ name: name(), address: `${net}.${i + 1}` }));
    const cluster = new NetnsCluster(hub, nodes, o.rate);
    if (live.size === 0) watchExit(true);
    live.add(cluster);
    try {
      for (const ns of [hub, ...nodes]) {
        sh('ip', ['netns', 'add', ns.name]);
        sh('ip', ['-n', ns.name, 'link', 'set', 'lo', 'up']);
      }
      const inHub = (...args: string[]) => sh('ip', ['-n', hub.name, ...args]);
      inHub('link', 'add', 'br0', 'type', 'bridge');
      inHub('addr', 'add', `${hub.address}/24`, 'dev', 'br0');
      inHub('link', 'set', 'br0', 'up');
      nodes.forEach((node, i) => {
        inHub('link', 'add', `n${i}`, 'type', 'veth', 'peer', 'name', 'cim0', 'netns', node.name);
        inHub('link', 'set', `n${i}`, 'master', 'br0', 'up');
        sh('ip', ['-n', node.name, 'addr', 'add', `${node.address}/24`, 'dev', 'cim0']);
        sh('ip', ['-n', node.name, 'link', 'set', 'cim0', 'up']);
        if (o.rate) {
          // a token bucket: 512 KB of burst (a veth hands over GSO packets of up to 64 KB), 50 ms of queue
          const tbf = ['root', 'tbf', 'rate', o.rate, 'burst', '512kb', 'latency', '50ms'];
          sh('tc', ['-n', node.name, 'qdisc', 'add', 'dev', 'cim0', ...tbf]);
          sh('tc', ['-n', hub.name, 'qdisc', 'add', 'dev', `n${i}`, ...tbf]);
        }
      });
    } catch (e) {
      cluster.destroy();
      throw e;
    }
    return cluster;
  }

  /** every namespace of the cluster, hub first */
  get names(): string[] {
    return [this.hub.name, ...this.nodes.map((n) => n.name)];
  }

  /** Starts `command args` inside namespace `ns` (a node's or the hub's name); destroy() kills it. */
  spawn(ns: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error('the namespace cluster is destroyed');
    if (!this.names.includes(ns)) throw new Error(`${ns} is not a namespace of this cluster (${this.names.join(', ')})`);
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `command args` inside namespace `ns` to the end; its stdout (throws with its stderr). */
  run(ns: string, command: string, args: readonly string[]): string {
    if (!this.names.includes(ns)) throw new Error(`${ns} is not a namespace of this cluster`);
    return sh('ip', ['netns', 'exec', ns, command, ...args]);
  }

  /**
   * A private redis-server inside the hub namespace on the bridge's address (every node reaches it
   * through its own link), answering before this resolves; stop() kills it (destroy() does too).
   */
  async startRedis(port = 6379, timeoutMs = 10_000): Promise<{ url: string; stop(): void }> {
    const args = ['--port', String(port), '--bind', this.hub.address, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
    const server = this.spawn(this.hub.name, 'redis-server', args, { stdio: 'ignore' });
    const stop = () => void (server.exitCode === null && server.signalCode === null && server.kill('SIGKILL'));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = spawnSync('ip', ['netns', 'exec', this.hub.name, 'redis-cli', '-h', this.hub.address, '-p', String(port), 'ping'], {
        encoding: 'utf8',
      });
      if (r.stdout?.trim() === 'PONG') return { url: `redis://${this.hub.address}:${port}`, stop };
      if (server.exitCode !== null || Date.now() > deadline) {
        stop();
        throw new Error(`redis-server in ${this.hub.name} did not answer on ${this.hub.address}:${port}: ${r.error?.message ?? r.stderr}`);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** Kills what runs inside, deletes the namespaces (and with them the links). Idempotent, synchronous. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    this.names.forEach(removeNamespace);
    live.delete(this);
    if (live.size === 0) watchExit(false);
  }
}
