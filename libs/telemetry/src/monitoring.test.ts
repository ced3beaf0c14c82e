// The Grafana dashboards and the Prometheus alert rules under deploy/: they parse, they have the
// panels the issue asks for, promtool accepts them, and every PromQL name is one we export.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import YAML from 'yaml';
import { exportedNames } from './testing/exported.ts';
import { expandGrafanaVariables, promqlNames } from './testing/promql.ts';
import { NO_PROMTOOL, promtool, repoPath, run } from './testing/tools.ts';

interface Target {
  expr: string;
  refId: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  title: string;
  type: string;
  targets: Target[];
  datasource?: { uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
}
interface Variable {
  name: string;
  type: string;
  query?: unknown;
  definition?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const DASHBOARDS = ['overview', 'run', 'queue'] as const;
const loadDashboard = (n: string) => JSON.parse(readFileSync(repoPath('deploy/grafana/dashboards', `${n}.json`), 'utf8')) as Dashboard;
const alertsText = readFileSync(repoPath('deploy/prometheus/alerts.yaml'), 'utf8');
const alerts = YAML.parse(alertsText) as {
  groups: { name: string; rules: { alert?: string; expr: string; for?: string; labels?: Record<string, string> }[] }[];
};

let exported: Awaited<ReturnType<typeof exportedNames>>;
before(async () => {
  exported = await exportedNames();
});

function unknownNames(expr: string): string[] {
  const { metrics, labels } = promqlNames(expandGrafanaVariables(expr));
  return [
    ...[...metrics].filter((m) => !exported.metrics.has(m)).map((m) => `metric ${m}`),
    ...[...labels].filter((l) => !exported.labels.has(l)).map((l) => `label ${l}`),
  ];
}

describe('PromQL name extraction (the checker the next tests rely on)', () => {
  it('finds metrics and labels, skips functions, keywords, durations and strings', () => {
    const n = promqlNames(
      'histogram_quantile(0.95, sum by (le, route) ' +
        '(rate(cim_http_request_duration_seconds_bucket{status_code=~"5..", method!="GET"}[5m] offset 1h))) ' +
        '/ on (route) group_left (team) max without (rank) (cim_x) and cim_y > bool 2',
    );
    assert.deepEqual([...n.metrics].sort(), ['cim_http_request_duration_seconds_bucket', 'cim_x', 'cim_y']);
    assert.deepEqual([...n.labels].sort(), ['le', 'method', 'rank', 'route', 'status_code', 'team']);
  });

  it('flags a name we do not export', () => {
    assert.deepEqual(unknownNames('sum by (pod) (rate(cim_rank_steps_total{run_id="$run_id"}[$__rate_interval])) + cim_made_up'), [
      'metric cim_made_up',
      'label pod',
    ]);
    assert.deepEqual(unknownNames('sum by (rank) (rate(cim_rank_step_seconds_sum{run_id="$run_id"}[$__rate_interval]))'), []);
  });
});

/**
 * What Grafana needs to import a dashboard JSON as provisioned (the dashboard model of schemaVersion
 * 39, Grafana 10/11): the top-level fields, and per panel a built-in type, an integer id, a gridPos
 * inside the 24-column grid, and targets with a refId and an expr. [] when it is importable.
 */
function grafanaModelErrors(d: unknown): string[] {
  const errs: string[] = [];
  const o = d as Record<string, unknown>;
  const isInt = (v: unknown) => Number.isInteger(v);
  if (typeof o.title !== 'string' || o.title === '') errs.push('title: a non-empty string');
  if (typeof o.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(o.uid)) errs.push('uid: 1-40 of [A-Za-z0-9_-]');
  if (!isInt(o.schemaVersion) || (o.schemaVersion as number) < 36) errs.push('schemaVersion: an integer >= 36');
  if (o.id !== null && o.id !== undefined) errs.push('id: null (Grafana assigns it on import)');
  if (!Array.isArray(o.panels)) errs.push('panels: an array');
  const templ = o.templating as { list?: unknown } | undefined;
  if (!Array.isArray(templ?.list)) errs.push('templating.list: an array');
  const time = o.time as { from?: unknown; to?: unknown } | undefined;
  if (typeof time?.from !== 'string' || typeof time?.to !== 'string') errs.push('time: {from, to} strings');
  const types = new Set([
    'timeseries',
    'stat',
    'gauge',
    'bargauge',
    'table',
    'text',
    'heatmap',
    'piechart',
    'barchart',
    'state-timeline',
    'row',
  ]);
  for (const [i, p] of ((Array.isArray(o.panels) ? o.panels : []) as Record<string, unknown>[]).entries()) {
    const at = `panels[${i}]`;
    if (!types.has(p.type as string)) errs.push(`${at}.type: a built-in panel type, not ${String(p.type)}`);
    if (!isInt(p.id) || (p.id as number) < 1) errs.push(`${at}.id: a positive integer`);
    const g = p.gridPos as Record<string, unknown> | undefined;
    if (!g || !['x', 'y', 'w', 'h'].every((k) => isInt(g[k]) && (g[k] as number) >= 0)) errs.push(`${at}.gridPos: integers x, y, w, h`);
    else if ((g.w as number) < 1 || (g.w as number) > 24 || (g.h as number) < 1) errs.push(`${at}.gridPos: 1 <= w <= 24, h >= 1`);
    if (p.type === 'row') continue;
    const targets = p.targets as Record<string, unknown>[] | undefined;
    if (!Array.isArray(targets) || targets.length === 0) errs.push(`${at}.targets: a non-empty array`);
    const refIds = new Set<unknown>();
    for (const [j, t] of (targets ?? []).entries()) {
      if (typeof t.refId !== 'string' || refIds.has(t.refId)) errs.push(`${at}.targets[${j}].refId: a unique string`);
      refIds.add(t.refId);
      if (typeof t.expr !== 'string' || t.expr === '') errs.push(`${at}.targets[${j}].expr: a PromQL string`);
    }
  }
  return errs;
}

describe('Grafana dashboards', () => {
  const required: Record<(typeof DASHBOARDS)[number], string[]> = {
    overview: ['Queue depth', 'Runs by status', 'Cluster throughput (images/s)', 'API errors (5xx/s)', 'Rank failures', 'Busy workers'],
    run: [
      'Loss',
      'Learning rate',
      'Target momentum',
      'Images/s per rank',
      'All-reduce share of step time',
      'Checkpoints',
      'Checkpoint bytes',
      'Restarts',
      'Heartbeat age',
    ],
    queue: ['Queue depth by state', 'Queue wait p50 / p95', 'Runs submitted by kind', 'Runs by status and team'],
  };

  for (const name of DASHBOARDS) {
    it(`${name}: the fields Grafana needs to import it`, () => assert.deepEqual(grafanaModelErrors(loadDashboard(name)), []));
  }

  it('the Grafana model check fails on a broken dashboard', () => {
    const d = loadDashboard('run') as unknown as Record<string, unknown> & { panels: Record<string, unknown>[] };
    delete d.title;
    d.schemaVersion = '39';
    d.panels[0].type = 'graph-old';
    (d.panels[1].gridPos as { w: number }).w = 30;
    (d.panels[2].targets as { refId?: string }[])[0].refId = undefined;
    assert.deepEqual(grafanaModelErrors(d), [
      'title: a non-empty string',
      'schemaVersion: an integer >= 36',
      'panels[0].type: a built-in panel type, not graph-old',
      'panels[1].gridPos: 1 <= w <= 24, h >= 1',
      'panels[2].targets[0].refId: a unique string',
    ]);
  });

  for (const name of DASHBOARDS) {
    it(`${name}: the required panels, a datasource variable, unique ids, no overlap`, () => {
      const d = loadDashboard(name);
      assert.equal(d.uid, `cim-forge-${name}`);
      const titles = d.panels.map((p) => p.title);
      for (const t of required[name]) assert.ok(titles.includes(t), `${name} lacks panel "${t}"`);
      assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
      const ds = d.templating.list.find((v) => v.name === 'datasource');
      assert.equal(ds?.type, 'datasource');
      assert.equal(ds?.query, 'prometheus');
      for (const p of d.panels) {
        assert.ok(p.targets.length > 0, p.title);
        assert.equal(p.datasource?.uid, '${datasource}', p.title);
        for (const t of p.targets) assert.equal(t.datasource?.uid, '${datasource}', p.title);
        assert.ok(p.gridPos.x + p.gridPos.w <= 24, p.title);
      }
      const cells = new Set<string>();
      for (const p of d.panels) {
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
          for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
            assert.ok(!cells.has(`${x},${y}`), `${name}: "${p.title}" overlaps another panel`);
            cells.add(`${x},${y}`);
          }
        }
      }
    });

    it(`${name}: every PromQL uses only metric and label names we export`, () => {
      const d = loadDashboard(name);
      for (const p of d.panels) for (const t of p.targets) assert.deepEqual(unknownNames(t.expr), [], `${name} / ${p.title}: ${t.expr}`);
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.definition ?? '');
        assert.ok(m, `${name}: variable ${v.name} is not label_values(metric, label)`);
        assert.ok(exported.metrics.has(m[1]) && exported.labels.has(m[2]), v.definition);
      }
    });
  }

  it('the run view filters every panel by its run_id variable', () => {
    const d = loadDashboard('run');
    const v = d.templating.list.find((x) => x.name === 'run_id');
    assert.equal(v?.type, 'query');
    assert.equal(v?.definition, 'label_values(cim_rank_steps_total, run_id)');
    for (const p of d.panels) for (const t of p.targets) assert.match(t.expr, /run_id="\$run_id"/, p.title);
  });

  it('promtool parses every panel query', { skip: promtool ? false : NO_PROMTOOL }, () => {
    const rules = DASHBOARDS.flatMap((n) =>
      loadDashboard(n).panels.flatMap((p) =>
        p.targets.map((t, i) => ({
          record: `dashboard:${n}_${p.id}_${i}`,
          expr: expandGrafanaVariables(t.expr),
        })),
      ),
    );
    assert.ok(rules.length >= 30);
    const dir = mkdtempSync(join(tmpdir(), 'cim-dash-'));
    try {
      const f = join(dir, 'dashboards.rules.yaml');
      writeFileSync(f, YAML.stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = run(promtool!, ['check', 'rules', f]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Prometheus alert rules', () => {
  it('has the hung-run, crash-loop and growing-queue alerts, each with a severity', () => {
    const rules = alerts.groups.flatMap((g) => g.rules);
    const names = rules.map((r) => r.alert);
    for (const a of [
      'CimRunHung',
      'CimRankHeartbeatStale',
      'CimRunRestartLoop',
      'CimWorkerCrashLooping',
      'CimQueueGrowing',
      'CimApiErrors',
    ]) {
      assert.ok(names.includes(a), a);
    }
    for (const r of rules) assert.match(r.labels?.severity ?? '', /^(page|warning)$/, r.alert);
    const hung = rules.find((r) => r.alert === 'CimRunHung')!;
    assert.match(hung.expr, /increase\(cim_rank_steps_total\[10m\]\) == 0/);
    assert.match(hung.expr, /cim_worker_busy == 1/);
    assert.equal(rules.find((r) => r.alert === 'CimQueueGrowing')?.for, '30m');
  });

  it('every rule uses only metric and label names we export', () => {
    for (const r of alerts.groups.flatMap((g) => g.rules)) assert.deepEqual(unknownNames(r.expr), [], `${r.alert}: ${r.expr}`);
  });

  it('`promtool check rules` passes', { skip: promtool ? false : NO_PROMTOOL }, () => {
    const r = run(promtool!, ['check', 'rules', repoPath('deploy/prometheus/alerts.yaml')]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 7 rules found/);
  });

  it('`promtool test rules`: the alerts fire on the series they are for, and only those', { skip: promtool ? false : NO_PROMTOOL }, () => {
    const r = run(promtool!, ['test', 'rules', 'alerts.test.yaml'], undefined, repoPath('deploy/prometheus'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('`promtool check config` accepts the compose Prometheus config and its rule file', { skip: promtool ? false : NO_PROMTOOL }, () => {
    const r = run(promtool!, ['check', 'config', repoPath('deploy/prometheus/prometheus.yml')]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /SUCCESS: 7 rules found/);
  });
});
