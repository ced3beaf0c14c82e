// Every manifest the chart renders, for each file in helm/cim-forge/ci/ (minimal-values.yaml is
// values.yaml plus only what it requires), validates against Kubernetes' own OpenAPI schemas (the
// npm package kubernetes-models, the prometheus-operator CRDs from @kubernetes-models/
// prometheus-operator), and the rendered PrometheusRule passes `promtool check rules`. A manifest
// broken on purpose must fail, so the check is shown able to fail. Needs helm (HELM_BIN).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { helm, NO_HELM, NO_PROMTOOL, promtool, repoPath, run } from './testing/tools.ts';

type Tree = Record<string, unknown>;
interface Manifest extends Tree {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
}
interface ModelClass {
  new (data: Tree): { validate(): void };
}

const chart = (...p: string[]) => repoPath('helm/cim-forge', ...p);
const ciFiles = readdirSync(chart('ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function render(valuesFile: string): Manifest[] {
  const r = run(helm!, ['template', 'rel', chart(), '--namespace', 'ml', '-f', chart('ci', valuesFile)]);
  assert.equal(r.status, 0, r.stderr);
  return YAML.parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as Manifest)
    .filter(Boolean);
}

/** The model (and so the schema) of an apiVersion/kind: core `v1` kinds live at the package root. */
async function modelOf(apiVersion: string, kind: string): Promise<ModelClass> {
  const path = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  const mod = (await import(path)) as Record<string, ModelClass>;
  assert.ok(mod[kind], `${path} exports no ${kind}`);
  return mod[kind];
}

/** The schema errors of one manifest, as one line each ([] when it validates). */
async function schemaErrors(doc: Manifest): Promise<string[]> {
  const Model = await modelOf(doc.apiVersion, doc.kind);
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    return errors?.map((x) => `${doc.kind}/${doc.metadata.name}${x.instancePath}: ${x.message}`) ?? [String(e)];
  }
}

describe("helm/cim-forge rendered manifests against Kubernetes' OpenAPI schemas (needs helm)", { skip: helm ? false : NO_HELM }, () => {
  for (const f of ciFiles) {
    it(`ci/${f}: every manifest validates`, async () => {
      const docs = render(f);
      assert.ok(docs.length >= 8, `only ${docs.length} manifests`);
      const errors = (await Promise.all(docs.map(schemaErrors))).flat();
      assert.deepEqual(errors, []);
    });
  }

  it('the kinds the chart renders all have a schema, and core kinds are among them', async () => {
    const kinds = new Set(ciFiles.flatMap((f) => render(f).map((d) => `${d.apiVersion}/${d.kind}`)));
    for (const k of ['apps/v1/Deployment', 'apps/v1/StatefulSet', 'batch/v1/Job', 'v1/Service', 'v1/Secret', 'v1/ConfigMap'])
      assert.ok(kinds.has(k), `${k} in ${[...kinds].join(', ')}`);
    for (const k of kinds) {
      const [kind, ...rest] = k.split('/').reverse();
      await modelOf(rest.reverse().join('/'), kind);
    }
  });

  // the check can fail: each break is one a user could make in a template, and the schema names it
  const breaks: [string, (docs: Manifest[]) => void, RegExp][] = [
    [
      'replicas as a string',
      (docs) => ((docs.find((d) => d.kind === 'Deployment')!.spec as Tree).replicas = 'three'),
      /Deployment\/rel-cim-forge-\w+\/spec\/replicas: must be integer/,
    ],
    [
      'a container without a name',
      (docs) => {
        const pod = ((docs.find((d) => d.kind === 'Deployment')!.spec as Tree).template as Tree).spec as { containers: Tree[] };
        delete pod.containers[0].name;
      },
      /\/spec\/template\/spec\/containers\/0: must have required property '?name'?/,
    ],
    [
      'a Service port out of type',
      (docs) => ((docs.find((d) => d.kind === 'Service')!.spec as { ports: Tree[] }).ports[0].port = '8080x'),
      /Service\/.*\/spec\/ports\/0\/port: must be integer/,
    ],
    [
      'a ServiceMonitor endpoint list that is a map',
      (docs) => ((docs.find((d) => d.kind === 'ServiceMonitor')!.spec as Tree).endpoints = { port: 'metrics' }),
      /ServiceMonitor\/.*\/spec\/endpoints: must be array/,
    ],
  ];
  for (const [what, breakIt, msg] of breaks) {
    it(`fails on ${what}`, async () => {
      const docs = render('minimal-values.yaml');
      breakIt(docs);
      const errors = (await Promise.all(docs.map(schemaErrors))).flat();
      assert.ok(
        errors.some((e) => msg.test(e)),
        errors.join('\n') || 'no error',
      );
    });
  }

  it(
    'the rendered PrometheusRule passes `promtool check rules`, and a broken one does not',
    { skip: promtool ? false : NO_PROMTOOL },
    () => {
      const rule = render('minimal-values.yaml').find((d) => d.kind === 'PrometheusRule')!;
      const spec = rule.spec as { groups: { rules: { expr: string }[] }[] };
      const n = spec.groups.flatMap((g) => g.rules).length;
      assert.ok(n >= 6);
      const dir = mkdtempSync(join(tmpdir(), 'cim-rule-'));
      try {
        const f = join(dir, 'rules.yaml');
        writeFileSync(f, YAML.stringify(spec));
        const ok = run(promtool!, ['check', 'rules', f]);
        assert.equal(ok.status, 0, ok.stdout + ok.stderr);
        assert.match(ok.stdout, new RegExp(`SUCCESS: ${n} rules found`));
        spec.groups[0].rules[0].expr = 'sum(rate(cim_rank_steps_total[5m])';
        writeFileSync(f, YAML.stringify(spec));
        const bad = run(promtool!, ['check', 'rules', f]);
        assert.notEqual(bad.status, 0);
        assert.match(bad.stdout + bad.stderr, /unclosed left parenthesis|parse error/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
