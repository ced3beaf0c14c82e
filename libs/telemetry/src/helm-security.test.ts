// The chart's security defaults (issue 13 items 5 and 6): no service account token in any pod, the
// admin token only in the API, the metrics token in the API, controller and workers and in the
// ServiceMonitor's scrapes, NetworkPolicies around the metrics ports, an ingress that routes only
// /v1 and /healthz, and values that refuse a short admin or metrics token or a public /metrics.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import YAML from 'yaml';
import { helm, NO_HELM, repoPath, run } from './testing/tools.ts';

type Tree = Record<string, unknown>;
const chart = (...p: string[]) => repoPath('helm/cim-forge', ...p);
const values = YAML.parse(readFileSync(chart('values.yaml'), 'utf8')) as Tree;
const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(chart('values.schema.json'), 'utf8')) as object);
const isObj = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);
function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Tree, v) : v;
  return out;
}
const valid = (over: Tree) => validate(merge(values, over));

describe('helm/cim-forge security values', () => {
  it('defaults: no service account token, NetworkPolicies on, ingress paths /v1 and /healthz only', () => {
    assert.equal(values.automountServiceAccountToken, false);
    assert.equal((values.networkPolicy as Tree).enabled, true);
    assert.deepEqual(((values.api as Tree).ingress as Tree).paths, ['/v1', '/healthz']);
  });
  it('the schema refuses an admin token shorter than the API accepts, and /metrics on the ingress', () => {
    assert.equal(valid({ secrets: { adminToken: 'short-token' } }), false);
    assert.equal(valid({ secrets: { adminToken: 'x'.repeat(24) } }), true);
    assert.equal(valid({ api: { ingress: { paths: ['/v1', '/metrics'] } } }), false);
    assert.equal((values.metrics as Tree).requireToken, true);
    assert.equal(valid({ secrets: { metricsToken: 'short-token' } }), false);
    assert.equal(valid({ secrets: { metricsToken: `${'x'.repeat(12)} ${'x'.repeat(12)}` } }), false);
    assert.equal(valid({ secrets: { metricsToken: 'x'.repeat(24) } }), true);
    assert.equal(valid({ metrics: { requireToken: 'yes' } }), false);
    for (const f of ['cpu-values.yaml', 'minimal-values.yaml', 'production-values.yaml']) {
      assert.equal(
        validate(merge(values, YAML.parse(readFileSync(chart('ci', f), 'utf8')) as Tree)),
        true,
        `${f}: ${JSON.stringify(validate.errors)}`,
      );
    }
  });
});

interface K8s {
  kind: string;
  metadata: { name: string };
  spec?: Tree;
}
const podSpec = (d: K8s): Tree | undefined => (d.spec?.template as Tree | undefined)?.spec as Tree | undefined;
const envNames = (pod: Tree) =>
  (pod.containers as Tree[]).flatMap((c) => ((c.env as Tree[] | undefined) ?? []).map((e) => e.name as string));

describe('helm/cim-forge security, rendered (needs helm)', { skip: helm ? false : NO_HELM }, () => {
  const render = (...extra: string[]): K8s[] => {
    const r = run(helm!, ['template', 'rel', chart(), '--namespace', 'ml', '-f', chart('ci', 'minimal-values.yaml'), ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return YAML.parseAllDocuments(r.stdout)
      .map((d) => d.toJSON() as K8s)
      .filter(Boolean);
  };

  it('every pod: automountServiceAccountToken false; CIM_ADMIN_TOKEN only in the API', () => {
    const docs = render();
    const pods = docs.filter((d) => podSpec(d) !== undefined);
    assert.ok(pods.length >= 4, pods.map((d) => d.metadata.name).join(', '));
    for (const d of pods) assert.equal(podSpec(d)!.automountServiceAccountToken, false, d.metadata.name);
    for (const d of pods) {
      const has = envNames(podSpec(d)!).includes('CIM_ADMIN_TOKEN');
      assert.equal(has, d.kind === 'Deployment' && d.metadata.name === 'rel-cim-forge-api', d.metadata.name);
    }
    const api = pods.find((d) => d.metadata.name === 'rel-cim-forge-api')!;
    assert.ok(envNames(podSpec(api)!).includes('CIM_WORKER_MEMORY_MB'));
  });

  it('the metrics token: in the Secret, in the API, controller and worker pods only, and in both ServiceMonitor endpoints', () => {
    const docs = render();
    const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === 'rel-cim-forge') as K8s & {
      stringData: Record<string, string>;
    };
    assert.equal(secret.stringData.CIM_METRICS_TOKEN, 'example-metrics-token-0123456789abcdef');
    const pods = docs.filter((d) => podSpec(d) !== undefined);
    const holders = pods
      .filter((d) => envNames(podSpec(d)!).includes('CIM_METRICS_TOKEN'))
      .map((d) => `${d.kind}/${d.metadata.name}`)
      .sort();
    assert.deepEqual(holders, ['Deployment/rel-cim-forge-api', 'Deployment/rel-cim-forge-controller', 'Deployment/rel-cim-forge-worker']);
    const api = pods.find((d) => d.metadata.name === 'rel-cim-forge-api')!;
    const env = ((podSpec(api)!.containers as Tree[])[0].env as Tree[]).find((e) => e.name === 'CIM_METRICS_TOKEN')!;
    assert.deepEqual(env.valueFrom, { secretKeyRef: { name: 'rel-cim-forge', key: 'CIM_METRICS_TOKEN' } });
    const sm = docs.find((d) => d.kind === 'ServiceMonitor')!;
    const endpoints = sm.spec!.endpoints as Tree[];
    assert.deepEqual(
      endpoints.map((e) => e.port),
      ['http', 'metrics'],
    );
    for (const e of endpoints)
      assert.deepEqual(e.authorization, { type: 'Bearer', credentials: { name: 'rel-cim-forge', key: 'CIM_METRICS_TOKEN' } });
  });

  it('metrics.requireToken=false: no metrics token anywhere; true without one: an error naming the value', () => {
    const docs = render('--set', 'metrics.requireToken=false');
    const text = JSON.stringify(docs);
    assert.ok(!text.includes('CIM_METRICS_TOKEN'));
    assert.equal((docs.find((d) => d.kind === 'ServiceMonitor')!.spec!.endpoints as Tree[]).filter((e) => 'authorization' in e).length, 0);
    const r = run(helm!, ['template', 'rel', chart(), '-f', chart('ci', 'minimal-values.yaml'), '--set', 'secrets.metricsToken=']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /secrets\.metricsToken is required while metrics\.requireToken is true \(or set secrets\.existingSecret\)/);
  });

  it('NetworkPolicies: the API on its HTTP port; controller and worker metrics only from the namespace and monitoring', () => {
    const pols = render().filter((d) => d.kind === 'NetworkPolicy');
    assert.deepEqual(pols.map((p) => p.metadata.name).sort(), ['rel-cim-forge-api', 'rel-cim-forge-controller', 'rel-cim-forge-worker']);
    for (const name of ['rel-cim-forge-controller', 'rel-cim-forge-worker']) {
      const p = pols.find((x) => x.metadata.name === name)!;
      const rule = (p.spec!.ingress as Tree[])[0];
      assert.deepEqual(rule.ports, [{ port: 'metrics' }]);
      assert.deepEqual(rule.from, [
        { podSelector: {} },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
      ]);
    }
    assert.equal(render('--set', 'networkPolicy.enabled=false').filter((d) => d.kind === 'NetworkPolicy').length, 0);
  });

  it('NetworkPolicies with transport gloo: worker pods take any TCP port from worker pods (one more rule), nothing else changes', () => {
    const redis = render().filter((d) => d.kind === 'NetworkPolicy');
    const gloo = render('--set', 'collective.transport=gloo').filter((d) => d.kind === 'NetworkPolicy');
    const rules = (pols: K8s[], name: string) => pols.find((p) => p.metadata.name === name)!.spec!.ingress as Tree[];
    assert.equal(rules(redis, 'rel-cim-forge-worker').length, 1);
    const w = rules(gloo, 'rel-cim-forge-worker');
    assert.equal(w.length, 2);
    assert.deepEqual(w[0], rules(redis, 'rel-cim-forge-worker')[0]);
    assert.deepEqual(w[1], {
      from: [
        {
          podSelector: {
            matchLabels: {
              'app.kubernetes.io/name': 'cim-forge',
              'app.kubernetes.io/instance': 'rel',
              'app.kubernetes.io/component': 'worker',
            },
          },
        },
      ],
      ports: [{ protocol: 'TCP' }],
    });
    for (const name of ['rel-cim-forge-api', 'rel-cim-forge-controller']) assert.deepEqual(rules(gloo, name), rules(redis, name));
  });

  it('the ingress routes /v1 and /healthz, never / or /metrics', () => {
    const ing = render('--set', 'api.ingress.enabled=true', '--set', 'api.ingress.host=cim.example.com').find((d) => d.kind === 'Ingress')!;
    const paths = (((ing.spec!.rules as Tree[])[0].http as Tree).paths as Tree[]).map((p) => p.path);
    assert.deepEqual(paths, ['/v1', '/healthz']);
  });
});
