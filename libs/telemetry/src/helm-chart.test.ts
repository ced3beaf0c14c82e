// helm/cim-forge: the values schema, the templates' well-formedness, agreement with the apps and
// with deploy/. Rendering (`helm lint`, `helm template`) runs only where a helm binary is found.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import YAML from 'yaml';
import { DEFAULT_PORTS } from './index.ts';
import { helm, NO_HELM, repoPath, run } from './testing/tools.ts';

const chart = (...p: string[]) => repoPath('helm/cim-forge', ...p);
type Tree = Record<string, unknown>;
const isObj = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);
const values = YAML.parse(readFileSync(chart('values.yaml'), 'utf8')) as Tree;
const schema = JSON.parse(readFileSync(chart('values.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);
const ciFiles = readdirSync(chart('ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const templateFiles = readdirSync(chart('templates'))
  .filter((f) => /\.(yaml|tpl|txt)$/.test(f))
  .sort();
const templates = Object.fromEntries(templateFiles.map((f) => [f, readFileSync(chart('templates', f), 'utf8')]));

/** Helm's coalescing of an override onto values.yaml: maps merge, null deletes, the rest replaces */
function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = merge(out[k] as Tree, v);
    else out[k] = v;
  }
  return out;
}
function errorsOf(v: Tree): string[] {
  return validate(v) ? [] : (validate.errors ?? []).map((e) => `${e.dataPath} ${e.message}`);
}
function get(tree: unknown, path: string[]): unknown {
  return path.reduce<unknown>((t, k) => (isObj(t) ? t[k] : undefined), tree);
}

describe('helm/cim-forge values.schema.json', () => {
  it('values.yaml validates', () => assert.deepEqual(errorsOf(values), []));

  for (const f of ciFiles) {
    it(`values.yaml + ci/${f} validates`, () => {
      assert.deepEqual(errorsOf(merge(values, YAML.parse(readFileSync(chart('ci', f), 'utf8')) as Tree)), []);
    });
  }

  const bad: [string, Tree, RegExp][] = [
    ['a negative GPU count', { worker: { gpus: -1 } }, /\.worker\.gpus should be >= 0/],
    ['no API image', { api: { image: { repository: null } } }, /\.api\.image should have required property 'repository'/],
    ['an empty worker image', { worker: { image: { repository: '' } } }, /\.worker\.image\.repository should NOT be shorter than 1/],
    ['an unknown backend', { worker: { backend: 'cuda' } }, /\.worker\.backend should be equal to one of the allowed values/],
    [
      'an unknown WebGPU adapter',
      { worker: { backend: 'webgpu', webgpuAdapter: 'vulkan' } },
      /\.worker\.webgpuAdapter should be equal to one of the allowed values/,
    ],
    ['a misspelt key', { worker: { gpu: 2 } }, /\.worker should NOT have additional properties/],
    ['a port out of range', { api: { port: 70000 } }, /\.api\.port should be <= 65535/],
    ['a negative shard count', { collective: { redis: { shards: -1 } } }, /\.collective\.redis\.shards should be >= 0/],
    [
      'a collective URL that is not redis://',
      { collective: { redis: { urls: ['http://x:6379'] } } },
      /\.collective\.redis\.urls\[0\] should match pattern/,
    ],
    ['an unknown wire format', { collective: { wire: 'int8' } }, /\.collective\.wire should be equal to one of the allowed values/],
    ['an unknown transport', { collective: { transport: 'nccl' } }, /\.collective\.transport should be equal to one of the allowed values/],
    [
      'a relative shared-memory host path',
      { collective: { nodeLocal: { shmHostPath: 'dev/shm/cim-forge' } } },
      /\.collective\.nodeLocal\.shmHostPath should match pattern/,
    ],
    [
      'a grace period too short for a checkpoint',
      { worker: { terminationGracePeriodSeconds: 5 } },
      /terminationGracePeriodSeconds should be >= 30/,
    ],
  ];
  for (const [what, over, msg] of bad) {
    it(`rejects ${what}`, () => {
      const errs = errorsOf(merge(values, over));
      assert.ok(
        errs.some((e) => msg.test(e)),
        errs.join('\n'),
      );
    });
  }
});

describe('helm/cim-forge templates (static)', () => {
  it('every {{ }} is balanced and every block is closed', () => {
    for (const [f, text] of Object.entries(templates)) {
      const opens = text.split('{{').length - 1;
      assert.equal(opens, text.split('}}').length - 1, `${f}: {{ vs }}`);
      let depth = 0;
      for (const m of text.matchAll(/\{\{-?\s*(\/\*[\s\S]*?\*\/|[\s\S]*?)\s*-?\}\}/g)) {
        const body = m[1];
        if (body.startsWith('/*')) continue;
        if (/^(if|range|with|define|block)\b/.test(body)) depth++;
        else if (/^end\b/.test(body)) depth--;
        assert.ok(depth >= 0, `${f}: {{ end }} without a block`);
      }
      assert.equal(depth, 0, `${f}: unclosed block`);
    }
  });

  it('every include/template names a define that exists', () => {
    const defined = new Set(Object.values(templates).flatMap((t) => [...t.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)].map((m) => m[1])));
    assert.ok(defined.has('cim-forge.fullname'));
    const used = Object.entries(templates).flatMap(([f, t]) =>
      [...t.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)].map((m) => [f, m[1]]),
    );
    assert.ok(used.length > 20);
    for (const [f, name] of used) assert.ok(defined.has(name), `${f}: include "${name}" has no define`);
  });

  it('every .Values path a template reads exists in values.yaml', () => {
    const paths = new Set<string>();
    for (const t of Object.values(templates))
      for (const m of t.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) paths.add(m[1].slice(1));
    assert.ok(paths.size > 30);
    for (const p of paths) assert.notEqual(get(values, p.split('.')), undefined, `.Values.${p} is not in values.yaml`);
  });

  it("ports agree with the apps' defaults", () => {
    assert.equal(get(values, ['api', 'port']), DEFAULT_PORTS.api);
    assert.equal(get(values, ['worker', 'metricsPort']), DEFAULT_PORTS.workerMetrics);
    assert.equal(get(values, ['controller', 'metricsPort']), DEFAULT_PORTS.controllerMetrics);
    assert.match(templates['api-deployment.yaml'], /name: PORT\n\s+value: \{\{ \.Values\.api\.port \| quote \}\}/);
    assert.match(templates['worker-deployment.yaml'], /name: METRICS_PORT\n\s+value: \{\{ \.Values\.worker\.metricsPort \| quote \}\}/);
    assert.match(
      templates['controller-deployment.yaml'],
      /name: METRICS_PORT\n\s+value: \{\{ \.Values\.controller\.metricsPort \| quote \}\}/,
    );
  });

  it('the pods get every env var the apps read', () => {
    const all = Object.values(templates).join('\n');
    const names = new Set([...all.matchAll(/- name: ([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]));
    for (const m of templates['configmap.yaml'].matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)) names.add(m[1]);
    for (const k of [
      'DATABASE_URL',
      'REDIS_URL',
      'S3_ENDPOINT',
      'S3_BUCKET',
      'S3_REGION',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
      'S3_FORCE_PATH_STYLE',
      'PORT',
      'METRICS_PORT',
      'CIM_ADMIN_TOKEN',
      'CIM_METRICS_TOKEN',
      'CIM_QUEUE_PREFIX',
      'CIM_BACKEND',
      'CIM_WEBGPU_ADAPTER',
      'LOG_LEVEL',
      'WORKER_ID',
      'CIM_COLLECTIVE_REDIS_URLS',
      'CIM_COLLECTIVE_WIRE',
      'NODE_NAME',
      'CIM_COLLECTIVE_SOCKET_DIR',
      'CIM_COLLECTIVE_SHM_DIR',
      'CIM_COLLECTIVE_TRANSPORT',
      'CIM_GLOO_HOST',
    ]) {
      assert.ok(names.has(k), k);
    }
  });

  it("the chart's dashboards and alert rules are byte-identical copies of deploy/", () => {
    const dash = readdirSync(chart('dashboards')).sort();
    assert.deepEqual(dash, readdirSync(repoPath('deploy/grafana/dashboards')).sort());
    for (const f of dash) assert.ok(readFileSync(chart('dashboards', f)).equals(readFileSync(repoPath('deploy/grafana/dashboards', f))), f);
    assert.ok(readFileSync(chart('files/alerts.yaml')).equals(readFileSync(repoPath('deploy/prometheus/alerts.yaml'))));
  });

  it('the migration Job is a pre-install/pre-upgrade hook; workers ask for GPUs', () => {
    const job = templates['migration-job.yaml'];
    assert.match(job, /kind: Job[\s\S]*helm\.sh\/hook: pre-install,pre-upgrade/);
    assert.match(job, /"node", "dist\/apps\/api\/src\/migrate-main\.js"/);
    const w = templates['worker-deployment.yaml'];
    assert.match(w, /nvidia\.com\/gpu: \{\{ \.Values\.worker\.gpus \}\}/);
    assert.match(w, /terminationGracePeriodSeconds: \{\{ \.Values\.worker\.terminationGracePeriodSeconds \}\}/);
    assert.equal(get(values, ['worker', 'terminationGracePeriodSeconds']), 600);
    assert.deepEqual(get(values, ['worker', 'tolerations']), [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });
});

interface K8s {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Tree;
  data?: Record<string, string>;
}
function render(valuesFile: string, ...extra: string[]): K8s[] {
  const r = run(helm!, ['template', 'rel', chart(), '--namespace', 'ml', '-f', chart('ci', valuesFile), ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return YAML.parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as K8s)
    .filter(Boolean);
}

describe('helm/cim-forge rendered (needs helm)', { skip: helm ? false : NO_HELM }, () => {
  for (const f of ciFiles) {
    it(`helm lint --strict -f ci/${f}`, () => {
      const r = run(helm!, ['lint', chart(), '--strict', '-f', chart('ci', f)]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });
  }

  it('values.yaml alone fails with a message naming what to set', () => {
    const r = run(helm!, ['template', 'rel', chart()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /s3\.bucket is required|secrets\.\w+ is required/);
  });

  it('helm also applies the schema: gpus -1 is refused', () => {
    const r = run(helm!, ['template', 'rel', chart(), '-f', chart('ci', 'minimal-values.yaml'), '--set', 'worker.gpus=-1']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /gpus/);
  });

  it('minimal values: the resources, GPUs, hook, dashboards and rules', () => {
    const docs = render('minimal-values.yaml');
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    for (const k of [
      'Deployment/rel-cim-forge-api',
      'Deployment/rel-cim-forge-controller',
      'Deployment/rel-cim-forge-worker',
      'Service/rel-cim-forge-api',
      'Service/rel-cim-forge-worker',
      'Job/rel-cim-forge-migrate',
      'Secret/rel-cim-forge',
      'Secret/rel-cim-forge-migrate',
      'ConfigMap/rel-cim-forge',
      'ServiceMonitor/rel-cim-forge',
      'PrometheusRule/rel-cim-forge',
      'ConfigMap/rel-cim-forge-dashboard-overview',
      'ConfigMap/rel-cim-forge-dashboard-run',
      'ConfigMap/rel-cim-forge-dashboard-queue',
    ]) {
      assert.ok(kinds.includes(k), `${k} in ${kinds.join(', ')}`);
    }
    const worker = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-worker'))!;
    const pod = get(worker.spec, ['template', 'spec']) as Tree;
    assert.equal(pod.terminationGracePeriodSeconds, 600);
    const c = (pod.containers as Tree[])[0];
    assert.equal(get(c, ['resources', 'limits', 'nvidia.com/gpu']), 1);
    assert.equal(c.image, 'registry.example.com/cim-forge/worker:0.1.0');
    assert.deepEqual(pod.nodeSelector, { 'nvidia.com/gpu.present': 'true' });
    const job = docs.find((d) => d.kind === 'Job')!;
    assert.equal(job.metadata.annotations?.['helm.sh/hook'], 'pre-install,pre-upgrade');
    const ctrl = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-controller'))!;
    assert.equal(
      get(ctrl.spec, ['template', 'spec', 'containers', '0', 'image']) ??
        (get(ctrl.spec, ['template', 'spec']) as { containers: Tree[] }).containers[0].image,
      'registry.example.com/cim-forge/api:0.1.0',
    );
    for (const name of ['overview', 'run', 'queue']) {
      const cm = docs.find((d) => d.metadata.name === `rel-cim-forge-dashboard-${name}`)!;
      assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
      assert.equal(
        cm.data?.[`cim-forge-${name}.json`],
        readFileSync(repoPath('deploy/grafana/dashboards', `${name}.json`), 'utf8').replace(/\n$/, ''),
      );
    }
    const rule = docs.find((d) => d.kind === 'PrometheusRule')!;
    assert.deepEqual(rule.spec, YAML.parse(readFileSync(repoPath('deploy/prometheus/alerts.yaml'), 'utf8')));
  });

  it("an existing Secret replaces the chart's; TLS ingress; controller on the worker image", () => {
    const docs = render('production-values.yaml');
    assert.deepEqual(
      docs.filter((d) => d.kind === 'Secret').map((d) => d.metadata.name),
      [],
    );
    const pods = JSON.stringify(docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job'));
    const refs = new Set([...pods.matchAll(/"secretKeyRef":\{"name":"([^"]+)"/g)].map((m) => m[1]));
    assert.deepEqual([...refs], ['cim-forge-credentials']);
    const ing = docs.find((d) => d.kind === 'Ingress')!;
    assert.equal(get(ing.spec, ['rules', '0', 'host']) ?? (ing.spec as { rules: Tree[] }).rules[0].host, 'cim.example.com');
    const w = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-worker'))!;
    assert.equal(get(w.spec, ['replicas']), 8);
    assert.equal(get(w.spec, ['template', 'spec', 'terminationGracePeriodSeconds']), 900);
    const sm = docs.find((d) => d.kind === 'ServiceMonitor')!;
    assert.equal(sm.metadata.labels?.release, 'kube-prometheus-stack');
    // the scrapes read the metrics token from the existing Secret
    for (const e of (sm.spec as { endpoints: Tree[] }).endpoints)
      assert.deepEqual(e.authorization, { type: 'Bearer', credentials: { name: 'cim-forge-credentials', key: 'CIM_METRICS_TOKEN' } });
  });

  it('WebGPU values: the webgpu image, CIM_BACKEND=webgpu, the adapter, the graphics capability, one GPU', () => {
    const envOf = (docs: K8s[]) => {
      const w = docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-worker'))!;
      const c = (get(w.spec, ['template', 'spec', 'containers']) as Tree[])[0];
      return { c, env: Object.fromEntries((c.env as { name: string; value?: string }[]).map((e) => [e.name, e.value])) };
    };
    const { c, env } = envOf(render('webgpu-values.yaml'));
    assert.equal(c.image, 'registry.example.com/cim-forge/worker:0.1.0-webgpu');
    assert.equal(env.CIM_BACKEND, 'webgpu');
    assert.equal(env.CIM_WEBGPU_ADAPTER, 'gpu');
    assert.equal(env.NVIDIA_DRIVER_CAPABILITIES, 'compute,utility,graphics');
    assert.equal(get(c, ['resources', 'limits', 'nvidia.com/gpu']), 1);
    assert.equal(envOf(render('webgpu-values.yaml', '--set', 'worker.webgpuAdapter=software')).env.CIM_WEBGPU_ADAPTER, 'software');
    // the tensorflow (CUDA) worker gets neither
    const tf = envOf(render('minimal-values.yaml')).env;
    assert.equal(tf.CIM_BACKEND, 'tensorflow');
    assert.ok(!('CIM_WEBGPU_ADAPTER' in tf) && !('NVIDIA_DRIVER_CAPABILITIES' in tf));
  });

  it('the collective: K Redis shards of its own, their URLs, the node name and a shared socket directory on the workers', () => {
    const docs = render('minimal-values.yaml');
    const sts = docs.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'rel-cim-forge-collective-redis')!;
    assert.equal(get(sts.spec, ['replicas']), 4);
    assert.ok(
      docs.some(
        (d) => d.kind === 'Service' && d.metadata.name === 'rel-cim-forge-collective-redis' && get(d.spec, ['clusterIP']) === 'None',
      ),
      'a headless Service for the shards',
    );
    const pod = get(docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-worker'))!.spec, ['template', 'spec']) as Tree;
    const env = (pod.containers as Tree[])[0].env as Tree[];
    const urls = env.find((e) => e.name === 'CIM_COLLECTIVE_REDIS_URLS')!.value as string;
    assert.deepEqual(
      urls.split(','),
      [0, 1, 2, 3].map((k) => `redis://rel-cim-forge-collective-redis-${k}.rel-cim-forge-collective-redis.ml.svc:6379`),
    );
    assert.deepEqual(env.find((e) => e.name === 'NODE_NAME')!.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    assert.equal(env.find((e) => e.name === 'CIM_COLLECTIVE_WIRE')!.value, 'auto');
    const dir = env.find((e) => e.name === 'CIM_COLLECTIVE_SOCKET_DIR')!.value;
    const mount = ((pod.containers as Tree[])[0].volumeMounts as Tree[]).find((m) => m.mountPath === dir)!;
    assert.deepEqual((pod.volumes as Tree[]).find((v) => v.name === mount.name)!.hostPath, {
      path: '/var/run/cim-forge/collective',
      type: 'DirectoryOrCreate',
    });
    // external servers instead: no StatefulSet, their URLs; node-local off: no NODE_NAME, no hostPath
    const ext = render(
      'minimal-values.yaml',
      '--set',
      'collective.redis.urls={redis://a:6379,redis://b:6379}',
      '--set',
      'collective.nodeLocal.enabled=false',
    );
    assert.ok(!ext.some((d) => d.kind === 'StatefulSet'), 'no shards of our own with external URLs');
    const extPod = get(ext.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-worker'))!.spec, ['template', 'spec']) as Tree;
    const extEnv = (extPod.containers as Tree[])[0].env as Tree[];
    assert.equal(extEnv.find((e) => e.name === 'CIM_COLLECTIVE_REDIS_URLS')!.value, 'redis://a:6379,redis://b:6379');
    assert.ok(!extEnv.some((e) => e.name === 'NODE_NAME'), 'no NODE_NAME with nodeLocal off');
    assert.ok(!JSON.stringify(extPod.volumes).includes('hostPath'), 'no hostPath with nodeLocal off');
  });

  it('the collective: shared memory in a tmpfs host directory of the node; transport redis (default) or gloo on the pod IP', () => {
    const workerPod = (docs: K8s[]) =>
      get(docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-worker'))!.spec, ['template', 'spec']) as Tree;
    const envOf = (pod: Tree) => (pod.containers as Tree[])[0].env as { name: string; value?: string; valueFrom?: Tree }[];
    const volumeAt = (pod: Tree, path: string) => {
      const mount = ((pod.containers as Tree[])[0].volumeMounts as Tree[]).find((m) => m.mountPath === path);
      return mount && (pod.volumes as Tree[]).find((v) => v.name === mount.name);
    };
    // defaults: redis, no Gloo address, the shared-memory files in the host's /dev/shm/cim-forge
    const pod = workerPod(render('minimal-values.yaml'));
    const env = envOf(pod);
    assert.equal(env.find((e) => e.name === 'CIM_COLLECTIVE_TRANSPORT')!.value, 'redis');
    assert.ok(!env.some((e) => e.name === 'CIM_GLOO_HOST'), 'no CIM_GLOO_HOST on redis');
    const shm = env.find((e) => e.name === 'CIM_COLLECTIVE_SHM_DIR')!.value!;
    assert.equal(shm, '/var/run/cim-shm');
    assert.deepEqual(volumeAt(pod, shm), { name: 'collective-shm', hostPath: { path: '/dev/shm/cim-forge', type: 'DirectoryOrCreate' } });
    // every worker pod of a node mounts the same two host directories (sockets, shared memory), and its own /dev/shm
    assert.deepEqual(
      (pod.volumes as Tree[]).filter((v) => 'hostPath' in v).map((v) => (v.hostPath as Tree).path),
      ['/var/run/cim-forge/collective', '/dev/shm/cim-forge'],
    );
    assert.deepEqual(get(volumeAt(pod, '/dev/shm'), ['emptyDir', 'medium']), 'Memory');
    // gloo: CIM_GLOO_HOST is the pod's IP; another shared-memory directory
    const gloo = workerPod(
      render('minimal-values.yaml', '--set', 'collective.transport=gloo', '--set', 'collective.nodeLocal.shmHostPath=/run/cim-shm'),
    );
    const genv = envOf(gloo);
    assert.equal(genv.find((e) => e.name === 'CIM_COLLECTIVE_TRANSPORT')!.value, 'gloo');
    assert.deepEqual(genv.find((e) => e.name === 'CIM_GLOO_HOST')!.valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
    assert.deepEqual(get(volumeAt(gloo, '/var/run/cim-shm'), ['hostPath', 'path']), '/run/cim-shm');
    // shmHostPath "": sockets only (none), no shared-memory volume
    const off = workerPod(render('minimal-values.yaml', '--set', 'collective.nodeLocal.shmHostPath='));
    assert.equal(envOf(off).find((e) => e.name === 'CIM_COLLECTIVE_SHM_DIR')!.value, 'none');
    assert.equal(volumeAt(off, '/var/run/cim-shm'), undefined);
    assert.equal((off.volumes as Tree[]).filter((v) => 'hostPath' in v).length, 1);
    // node-local off: neither directory nor NODE_NAME; the transport still set
    const flat = workerPod(
      render('minimal-values.yaml', '--set', 'collective.nodeLocal.enabled=false', '--set', 'collective.transport=gloo'),
    );
    assert.ok(!envOf(flat).some((e) => e.name === 'CIM_COLLECTIVE_SHM_DIR' || e.name === 'NODE_NAME'));
    assert.equal(envOf(flat).find((e) => e.name === 'CIM_COLLECTIVE_TRANSPORT')!.value, 'gloo');
    assert.ok(!JSON.stringify(flat.volumes).includes('hostPath'));
  });

  it('CPU values: no GPU requests, no Operator resources', () => {
    const docs = render('cpu-values.yaml');
    assert.ok(!JSON.stringify(docs).includes('nvidia.com/gpu"'), 'a GPU request rendered');
    assert.deepEqual(
      docs.filter((d) => d.kind === 'ServiceMonitor' || d.kind === 'PrometheusRule'),
      [],
    );
  });
});
