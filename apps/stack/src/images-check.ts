/**
 * `npm run images:check`: the container images built and the service run from them.
 *  1. Starts Docker's daemon when none answers (as root: `dockerd --iptables=false --ip-forward=false
 *     --bridge=none`, data under CIM_DOCKER_ROOT; stopped again at the end).
 *  2. The base: --base IMAGE; else node:20-bookworm-slim when present or pullable; else a local one
 *     from docker/base.sh (Debian by debootstrap, Node and npm from the npm registry; cached).
 *  3. Builds the API, CPU-worker and WebGPU-worker images (docker/*.Dockerfile, BuildKit, host
 *     network; the host's CA bundle reaches npm as a build secret). A failure names image and step.
 *  4. Checks what a user deploys: uid 1000:1000, no tsx and no devDependency in node_modules, no
 *     tfjs in the API image, no secret in the image's environment or layers; the worker images load
 *     their Node-API addons from dist/ (native-check.js: CPU shm, gloo, dnnl; WebGPU shm, gloo).
 *  5. Runs the service from the images on this machine's PostgreSQL (a temp database) and Redis (a
 *     random queue prefix) and an S3 server (s3rver): migrations, API, controller, two CPU workers,
 *     each container as the chart runs it (read-only root filesystem, /tmp a tmpfs, uid 1000, no
 *     capabilities, no new privileges). Two chaos scenarios over REST: the uninterrupted 2-rank
 *     smoke pre-training (SUCCEEDED, its checkpoints in S3) and a SIGTERM to the worker container
 *     running rank 0 mid-run (the gang checkpoints and stops, is requeued, resumes at that step and
 *     ends with the same weights). Every container's HEALTHCHECK must report healthy.
 *  6. Stops everything it started; prints one JSON line (images with sizes and build seconds, the
 *     scenarios, pass). Exit code 0 only when everything passed.
 *
 *   npm run images:check -- [--base IMAGE] [--native registry|official] [--no-run] [--verbose]
 *
 * Needs root (dockerd, debootstrap) where no daemon runs yet. Debian's docker client
 * (/usr/bin/docker, or DOCKER) runs BuildKit builds by itself (DOCKER_BUILDKIT=1, no buildx).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Harness, type ScenarioResult } from './chaos/harness.ts';
import { runScenarios } from './chaos/run-scenarios.ts';
import { baseline } from './chaos/scenarios/baseline.ts';
import { sigtermWorker } from './chaos/scenarios/sigterm-worker.ts';
import { failedStep } from './images/build-log.ts';
import type { Service } from './stack.ts';
import { childProcessEnv, processEnv } from '@cim-forge/settings';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    native: { type: 'string', default: processEnv().CIM_TFJS_NATIVE ?? 'registry' },
    'no-run': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
if (!['registry', 'official'].includes(args.native!)) {
  console.error(`--native must be registry or official (got ${args.native})`);
  process.exit(2);
}
const DOCKER = processEnv().DOCKER ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');
const OFFICIAL_BASE = 'node:20-bookworm-slim';
const tag = processEnv().CIM_IMAGES_TAG ?? 'check';
const logDir = processEnv().CIM_IMAGES_LOGS ?? join(tmpdir(), 'cim-images-check');
mkdirSync(logDir, { recursive: true });
const say = (msg: string) => console.error(`[images] ${msg}`);

function docker(argv: string[], o: { input?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(DOCKER, argv, {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    input: o.input,
    timeout: o.timeoutMs,
    env: childProcessEnv({ DOCKER_BUILDKIT: '1' }),
  });
}
const dockerOk = (argv: string[], timeoutMs?: number) => docker(argv, { timeoutMs }).status === 0;

/** Docker's daemon: the one running, or one started here (returned, so it is stopped at the end). */
async function ensureDaemon(): Promise<(() => Promise<void>) | undefined> {
  if (dockerOk(['info'], 20_000)) return undefined;
  const dataRoot = processEnv().CIM_DOCKER_ROOT ?? '/var/tmp/cim-forge-docker';
  mkdirSync(dataRoot, { recursive: true });
  const log = openSync(join(logDir, 'dockerd.log'), 'a');
  say(`no Docker daemon answers; starting dockerd (data root ${dataRoot}, log ${join(logDir, 'dockerd.log')})`);
  const d = spawn('dockerd', ['--iptables=false', '--ip-forward=false', '--bridge=none', '--data-root', dataRoot], {
    stdio: ['ignore', log, log],
    detached: true,
  });
  closeSync(log);
  const gone = new Promise<void>((r) => d.once('exit', () => r()));
  let exited = false;
  void gone.then(() => (exited = true));
  d.once('error', (e) => say(`dockerd did not start: ${e.message}`));
  for (let i = 0; i < 120 && !exited; i++) {
    if (dockerOk(['info'], 10_000)) {
      return async () => {
        say('stopping the dockerd this check started');
        d.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 30_000))]);
      };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  d.kill('SIGKILL');
  throw new Error(`dockerd did not come up (is this root? see ${join(logDir, 'dockerd.log')})`);
}

/** The base image: given, official (present or pulled), or built here by docker/base.sh (cached by its inputs). */
function baseImage(): string {
  if (args.base) return args.base;
  if (dockerOk(['image', 'inspect', OFFICIAL_BASE])) return OFFICIAL_BASE;
  say(`pulling ${OFFICIAL_BASE}…`);
  if (dockerOk(['pull', OFFICIAL_BASE], 120_000)) return OFFICIAL_BASE;
  say(`${OFFICIAL_BASE} cannot be pulled here: building a local base (docker/base.sh)`);
  const r = spawnSync('bash', [join(root, 'docker/base.sh')], {
    encoding: 'utf8',
    env: childProcessEnv({ DOCKER }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`docker/base.sh failed (exit ${r.status}): the base image could not be built`);
  return r.stdout.trim().split('\n').at(-1)!;
}

interface ImageSpec {
  name: string;
  dockerfile: string;
  target: string;
  tag: string;
  /** the Node-API addons the image must load from dist/ (native-check.js --require) */
  addons?: string;
}
const IMAGES: ImageSpec[] = [
  { name: 'api', dockerfile: 'docker/api.Dockerfile', target: 'runtime', tag: `cim-forge/api:${tag}` },
  {
    name: 'worker-cpu',
    dockerfile: 'docker/worker.Dockerfile',
    target: 'cpu',
    tag: `cim-forge/worker:${tag}-cpu`,
    addons: 'shm,gloo,dnnl',
  },
  {
    name: 'worker-webgpu',
    dockerfile: 'docker/worker.Dockerfile',
    target: 'webgpu',
    tag: `cim-forge/worker:${tag}-webgpu`,
    addons: 'shm,gloo',
  },
];

function caBundle(): string | undefined {
  const fromNpm = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).stdout?.trim();
  for (const f of [processEnv().NODE_EXTRA_CA_CERTS, fromNpm, '/etc/ssl/certs/ca-certificates.crt'])
    if (f && f !== 'null' && f !== 'undefined' && existsSync(f)) return f;
  return undefined;
}

function buildImage(spec: ImageSpec, base: string, ca: string | undefined): { seconds: number } {
  const argv = ['build', '--progress', 'plain', '--network', 'host', '-f', spec.dockerfile, '--target', spec.target];
  argv.push('--build-arg', `NODE_IMAGE=${base}`, '--build-arg', `TFJS_NATIVE=${args.native}`, '-t', spec.tag);
  if (ca) argv.push('--secret', `id=npm_ca,src=${ca}`);
  argv.push('.');
  say(`building ${spec.name} (${spec.dockerfile} --target ${spec.target})…`);
  const t0 = performance.now();
  const r = spawnSync(DOCKER, argv, { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20, env: childProcessEnv({ DOCKER_BUILDKIT: '1' }) });
  const seconds = (performance.now() - t0) / 1000;
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const logFile = join(logDir, `build-${spec.name}.log`);
  writeFileSync(logFile, log);
  if (r.status !== 0) {
    const step = failedStep(log) ?? 'unknown step';
    const tail = log.trim().split('\n').slice(-25).join('\n');
    throw new Error(`image ${spec.name}: build failed at ${step} (full log: ${logFile})\n${tail}`);
  }
  return { seconds };
}

const imageSize = (ref: string) => Number(docker(['image', 'inspect', '-f', '{{.Size}}', ref]).stdout.trim());

/** What a user deploys: the user, no dev tooling, no tfjs in the API, no secret in env or layers. */
function inspectImage(spec: ImageSpec): string[] {
  const problems: string[] = [];
  const user = docker(['image', 'inspect', '-f', '{{.Config.User}}', spec.tag]).stdout.trim();
  if (user !== '1000:1000') problems.push(`user is "${user}", not 1000:1000`);
  const env = JSON.parse(docker(['image', 'inspect', '-f', '{{json .Config.Env}}', spec.tag]).stdout) as string[];
  const secretEnv = env.filter((e) =>
    /^(DATABASE_URL|REDIS_URL|S3_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)|CIM_\w*TOKEN|NODE_EXTRA_CA_CERTS)=/.test(e),
  );
  if (secretEnv.length) problems.push(`secrets in the image's environment: ${secretEnv.map((e) => e.split('=')[0]).join(', ')}`);
  const history = docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', spec.tag]).stdout;
  if (/BEGIN CERTIFICATE|_TOKEN=|SECRET_ACCESS_KEY=|postgres(ql)?:\/\/[^ ]*:[^ ]*@/.test(history))
    problems.push('a secret in a layer command');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const probe = `
    const fs = require('node:fs');
    const dev = ${JSON.stringify(Object.keys(pkg.devDependencies))}.filter((d) => fs.existsSync('node_modules/' + d));
    console.log(JSON.stringify({ dev, tsx: fs.existsSync('node_modules/tsx'), tfjs: fs.existsSync('node_modules/@tensorflow'),
      ca: fs.existsSync('/run/secrets/npm_ca'), uid: process.getuid(), dist: fs.existsSync('dist') }));`;
  const r = docker(['run', '--rm', '--network', 'none', '--read-only', spec.tag, 'node', '-e', probe]);
  if (r.status !== 0) return [...problems, `node did not run in the image: ${r.stderr.trim().slice(-500)}`];
  const p = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    dev: string[];
    tsx: boolean;
    tfjs: boolean;
    ca: boolean;
    uid: number;
    dist: boolean;
  };
  if (p.dev.length) problems.push(`devDependencies in node_modules: ${p.dev.join(', ')}`);
  if (p.tsx) problems.push('tsx in node_modules');
  if (spec.name === 'api' && p.tfjs) problems.push('tfjs in the API image');
  if (p.ca) problems.push('the build CA secret left in the image');
  if (p.uid !== 1000) problems.push(`runs as uid ${p.uid}`);
  if (!p.dist) problems.push('no dist/');
  if (spec.addons) {
    // as the chart runs the worker: uid 1000, read-only root
    const n = docker([
      'run',
      '--rm',
      '--network',
      'none',
      '--read-only',
      spec.tag,
      'node',
      'dist/apps/worker/src/native-check.js',
      '--require',
      spec.addons,
    ]);
    if (n.status !== 0) problems.push(`addons ${spec.addons} do not all load: ${n.stdout.trim()} ${n.stderr.trim().slice(-500)}`);
  }
  return problems;
}

const COMMANDS: Record<Service | 'migrate', string> = {
  api: 'dist/apps/api/src/main.js',
  controller: 'dist/apps/worker/src/controller-main.js',
  worker: 'dist/apps/worker/src/worker-main.js',
  migrate: 'dist/apps/api/src/migrate-main.js',
};

/** `docker run` of one service as the chart runs it; env values travel in the client's environment, not argv. */
function runArgs(image: string, name: string, env: Record<string, string>, command: string): string[] {
  const argv = ['run', '--rm', '--name', name, '--network', 'host', '--read-only', '--tmpfs', '/tmp', '--user', '1000:1000'];
  argv.push('--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--health-interval', '3s', '--health-start-period', '60s');
  for (const k of Object.keys(env)) argv.push('-e', k);
  return [...argv, image, 'node', command];
}

async function runStack(images: Record<string, string>): Promise<{ results: ScenarioResult[]; health: Record<string, string> }> {
  const prefix = `cimchk-${randomBytes(3).toString('hex')}`;
  const health: Record<string, string> = {};
  // a restarted service gets a new container name (the stopped one may still be being removed)
  const current = new Map<string, string>();
  let launches = 0;
  let h: Harness | undefined;
  try {
    h = await Harness.start({
      verbose: args.verbose,
      // the chaos timings (a lost rank noticed in seconds) are for processes on an idle machine;
      // containers on a loaded one get minutes, since this checks the images, not failure detection
      env: { CIM_COLLECTIVE_TIMEOUT_MS: '60000', CIM_HEARTBEAT_TIMEOUT_MS: '60000', CIM_RENDEZVOUS_TIMEOUT_MS: '180000' },
      runTimeoutMs: 900_000,
      migrate: async (databaseUrl) => {
        say('migrations (API image)…');
        const r = spawnSync(DOCKER, runArgs(images.api, `${prefix}-migrate`, { DATABASE_URL: databaseUrl }, COMMANDS.migrate), {
          encoding: 'utf8',
          env: childProcessEnv({ DATABASE_URL: databaseUrl }),
        });
        if (r.status !== 0) throw new Error(`migrations from the API image failed: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
      },
      launch: (service, name, env) => {
        // the worker image's own CIM_BACKEND (tensorflow) applies, not the stack's `auto`
        const e = service === 'worker' ? Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'CIM_BACKEND')) : env;
        const image = service === 'worker' ? images['worker-cpu'] : images.api;
        current.set(name, `${prefix}-${name}-${launches++}`);
        return { command: DOCKER, args: runArgs(image, current.get(name)!, e, COMMANDS[service]) };
      },
    });
    say('stack up from the images; scenarios: baseline, SIGTERM to a worker container');
    const results = await runScenarios(h, [baseline, sigtermWorker], (r) =>
      say(`${r.pass ? 'PASS' : 'FAIL'} ${r.scenario} (${r.seconds?.toFixed(0)} s): ${r.observed}`),
    );
    // every container's HEALTHCHECK (interval 3 s here) reports healthy
    const names = ['api', 'controller', 'worker-0', 'worker-1'];
    await h
      .until('every container is healthy', 90_000, async () => {
        for (const n of names)
          health[n] = docker(['inspect', '-f', '{{.State.Health.Status}}', current.get(n) ?? n]).stdout.trim() || 'gone';
        return names.every((n) => health[n] === 'healthy') ? true : undefined;
      })
      .catch(() => undefined);
    return { results, health };
  } finally {
    if (h) {
      if (args.verbose) console.error(h.tail(40));
      await h.close().catch((e) => say(`closing the stack: ${(e as Error).message}`));
    }
    const left = docker(['ps', '-aq', '--filter', `name=${prefix}-`])
      .stdout.trim()
      .split('\n')
      .filter(Boolean);
    if (left.length) docker(['rm', '-f', ...left]);
  }
}

let stopDaemon: (() => Promise<void>) | undefined;
let code = 1;
const report: Record<string, unknown> = { pass: false };
try {
  stopDaemon = await ensureDaemon();
  const base = baseImage();
  report.base = base;
  const ca = caBundle();
  const built: Record<string, string> = {};
  const images: Record<string, unknown>[] = [];
  for (const spec of IMAGES) {
    const { seconds } = buildImage(spec, base, ca);
    built[spec.name] = spec.tag;
    images.push({ name: spec.name, tag: spec.tag, sizeMB: Math.round(imageSize(spec.tag) / 1e6), buildSeconds: Math.round(seconds) });
  }
  report.images = images;
  const problems = Object.fromEntries(IMAGES.map((s) => [s.name, inspectImage(s)]));
  report.imageProblems = problems;
  let pass = Object.values(problems).every((p) => p.length === 0);
  if (!args['no-run']) {
    const { results, health } = await runStack(built);
    report.e2e = results.map((r) => ({ scenario: r.scenario, pass: r.pass, seconds: Math.round(r.seconds ?? 0), observed: r.observed }));
    report.health = health;
    pass &&= results.every((r) => r.pass) && Object.values(health).every((s) => s === 'healthy');
  }
  report.pass = pass;
  code = pass ? 0 : 1;
} catch (e) {
  report.error = (e as Error).message.split('\n')[0];
  console.error((e as Error).message);
} finally {
  await stopDaemon?.().catch(() => {});
}
console.log(JSON.stringify(report));
process.exit(code);
