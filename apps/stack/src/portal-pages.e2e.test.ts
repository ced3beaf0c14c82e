/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The portal's pages in a real browser (Debian's chromium through puppeteer-core) on the real API
// and PostgreSQL, with finished runs seeded directly in the test database (as a worker leaves
// them: the run row, its metrics and its events), so no training has to run:
// - a finished run's page draws every chart (the Curves section used to stay 11 empty frames);
// - an eval run's robustness tables show the report's numbers;
// - keyboard navigation: the tab order of the shell, the skip link, and the `g <key>` shortcuts.
// Screenshots go to PORTAL_SCREENSHOTS_DIR when set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { createDb, writeMetrics, type Db, type MetricPoint } from '@cim-forge/db';
import { type TempDatabase } from '@cim-forge/db/testing';
import { type Stack } from './stack.ts';
import { closeTestStack, startTestStack } from './test-stack.ts';
import { ensurePortalBuilt, launchChromium } from './portal-browser.ts';

let tdb: TempDatabase;
let db: Db;
let dir: string;
let stack: Stack;
let browser: Browser;
let page: Page;
let token: string;
let teamId: string;
const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
const shots = process.env.PORTAL_SCREENSHOTS_DIR ? resolve(process.env.PORTAL_SCREENSHOTS_DIR) : undefined;
const log: string[] = [];
const ids: Record<string, string> = {};

/** run-level series (one line each) and per-rank series (one line per rank): 11 charts */
const RUN_SERIES = ['loss', 'lr', 'momentum', 'grad_norm', 'val_loss', 'val_top1', 'images_per_s', 'data_ms', 'weight_norm'];
const RANK_SERIES = ['step_ms', 'allreduce_ms'];
const STEPS = 120;

async function api<T = Record<string, unknown>>(path: string, init: RequestInit = {}, bearer = token): Promise<T> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...init.headers },
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

async function shot(name: string) {
  if (!shots) return;
  await new Promise((r) => setTimeout(r, 300));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** a finished run as a worker leaves it */
async function seedRun(name: string, kind: 'pretrain' | 'finetune' | 'eval', extra: Record<string, unknown> = {}): Promise<string> {
  const finishedAt = new Date();
  const run = await db.run.create({
    data: {
      teamId,
      kind,
      status: 'SUCCEEDED',
      name,
      preset: 'smoke',
      config: { preset: 'smoke', batchSize: 32, baseLr: 1.5e-3 },
      worldSize: 2,
      startedAt: new Date(finishedAt.getTime() - 95_000),
      finishedAt,
      createdAt: new Date(finishedAt.getTime() - 100_000),
      queuedAt: new Date(finishedAt.getTime() - 100_000),
      ...extra,
    },
  });
  await db.runEvent.create({ data: { runId: run.id, type: 'run.succeeded', message: 'all ranks finished' } });
  return run.id;
}

/**
 * An ASHA sweep over the fine-tuning learning rate (9 trials, η 3, rungs at 2, 6 and 18 steps),
 * seeded in the database as the sweep driver leaves a finished one: the sweeps row (its resolved
 * spec), its sweep_trials rows, and each trial as an ordinary finished run (sweep_id, trial_index)
 * with its val_top1 per step. `sweep` holds what GET /v1/sweeps/:id should then say.
 */
const RUNGS = [2, 6, 18];
const sweep = {
  id: '',
  name: 'lr-asha',
  space: { baseLr: { loguniform: [0.0001, 0.1] } },
  algorithm: { name: 'asha', eta: 3, seed: 0 },
  metric: { name: 'val_top1', goal: 'max' as const },
  trials: [] as { index: number; runId: string; params: { baseLr: number }; rung: number; metric: number; stopReason: string | null }[],
};
/** top-1 after `step` steps at learning rate `lr`: best near 3e-3 */
const top1 = (lr: number, step: number) => Math.round(1e4 * (0.9 - 0.05 * (Math.log10(lr) + 2.5) ** 2) * (1 - Math.exp(-step / 5))) / 1e4;

async function seedSweep() {
  // the rung each trial reached: the top third of a rung goes on (4 → rung 2; 3 and 5 → rung 1)
  const reached = [0, 0, 0, 1, 2, 1, 0, 0, 0];
  const lrs = reached.map((_, i) => Number((1e-4 * 10 ** ((3 * i) / 8)).toPrecision(3)));
  const row = await db.sweep.create({
    data: {
      teamId,
      name: sweep.name,
      status: 'SUCCEEDED',
      kind: 'finetune',
      base: { kind: 'finetune', preset: 'smoke', source: { runId: ids.pretrain, checkpoint: 'latest' } },
      spec: {
        space: sweep.space,
        algorithm: sweep.algorithm,
        metric: sweep.metric,
        maxTrials: 9,
        maxConcurrent: 3,
        totalSteps: 18,
        rungs: RUNGS,
        notes: [],
        worldSize: 1,
        preset: 'smoke',
        maxRestarts: 3,
        sourceCheckpointId: null,
        trials: lrs.map((lr, index) => ({ index, params: { baseLr: lr } })),
      },
      createdAt: new Date(Date.now() - 600_000),
      finishedAt: new Date(),
    },
  });
  sweep.id = row.id;
  const points: MetricPoint[] = [];
  for (const [i, lr] of lrs.entries()) {
    const rung = reached[i];
    const runId = await seedRun(`lr-asha-${i}`, 'finetune', { config: { preset: 'smoke', baseLr: lr }, sweepId: row.id, trialIndex: i });
    for (let step = 1; step <= RUNGS[rung]; step++) points.push({ runId, name: 'val_top1', step, value: top1(lr, step) });
    const rungMetrics = RUNGS.slice(0, rung + 1).map((b) => top1(lr, b));
    const stopReason = rung === RUNGS.length - 1 ? null : `not in the top 1/3 at rung ${rung} (${RUNGS[rung]} steps)`;
    await db.sweepTrial.create({
      data: {
        sweepId: row.id,
        index: i,
        params: { baseLr: lr },
        runId,
        state: stopReason ? 'stopped' : 'completed',
        rung,
        judgedRung: rung,
        rungMetrics,
        stopReason,
      },
    });
    sweep.trials.push({ index: i, runId, params: { baseLr: lr }, rung, metric: rungMetrics[rung], stopReason });
  }
  await writeMetrics(db, points);
}

before(async () => {
  ensurePortalBuilt();
  if (shots) await mkdir(shots, { recursive: true });
  ({ db: tdb, dir, stack } = await startTestStack({ name: 'portalp', workers: 0, adminToken, log }));
  db = createDb(tdb.url);
  const team = await api<{ id: string }>('/v1/teams', { method: 'POST', body: JSON.stringify({ name: 'portal-pages' }) }, adminToken);
  teamId = team.id;
  token = (await api<{ token: string }>('/v1/tokens', { method: 'POST', body: JSON.stringify({ teamId }) }, adminToken)).token;

  ids.pretrain = await seedRun('finished-pretrain', 'pretrain');
  const points: MetricPoint[] = [];
  for (const [k, name] of RUN_SERIES.entries())
    for (let step = 1; step <= STEPS; step++) points.push({ runId: ids.pretrain, name, step, value: (k + 1) * (1 + 1 / step) });
  for (const name of RANK_SERIES)
    for (const rank of [0, 1])
      for (let step = 1; step <= STEPS; step++) points.push({ runId: ids.pretrain, name, rank, step, value: 10 + rank + step / 10 });
  await writeMetrics(db, points);

  ids.eval = await seedRun('finished-eval', 'eval');
  await db.runEvent.create({
    data: {
      runId: ids.eval,
      type: 'run.eval',
      message: 'clean top-1 81.25%',
      data: {
        format: 'cim-forge.robustness/1',
        images: 256,
        clean: { top1: 0.8125 },
        fgsm: { top1: 0.5 },
        pgd: { top1: 0.375 },
        corruptions: { gaussian_noise: { '1': 0.75, '3': 0.5 }, defocus_blur: { '1': 0.78125, '3': 0.625 } },
        corruptionErrors: { gaussian_noise: 1.125, defocus_blur: 0.9375 },
        mCE: 1.03125,
        mceNormalization: 'unnormalized',
        settings: { eps: 0.0078, pgdSteps: 10 },
      },
    },
  });

  await seedSweep();

  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (err) => log.push(`browser: ${err}`));
  await page.goto(`${stack.apiUrl}/`);
  await page.evaluate((t) => sessionStorage.setItem('cim-forge.token', t), token);
});

after(async () => {
  await browser?.close();
  await db?.$disconnect();
  await closeTestStack({ db: tdb, dir, stack });
});

function dumpOnFailure(t: { after(fn: () => void): void }) {
  const state = { passed: false };
  t.after(() => {
    if (!state.passed)
      console.log(
        log
          .filter((l) => !l.includes('"incoming request"') && !l.includes('"request completed"'))
          .slice(-60)
          .join('\n'),
      );
  });
  return state;
}

/** each chart: its title, the points uPlot drew (from its draw hook), whether a canvas is in it, and its coloured pixels */
async function chartsDrawn() {
  return page.$$eval('[data-testid^=chart-]', (els) =>
    els.map((el) => {
      const canvas = el.querySelector('canvas');
      let coloured = 0;
      if (canvas && canvas.width > 0 && canvas.height > 0) {
        const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        // a line's pixel is saturated: the axes, grid and text are greys
        for (let i = 0; i < px.length; i += 4) {
          const [r, g, b, a] = [px[i], px[i + 1], px[i + 2], px[i + 3]];
          if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
        }
      }
      return {
        id: el.getAttribute('data-testid')!.slice('chart-'.length),
        points: Number(el.getAttribute('data-points') ?? 0),
        drawn: Number(el.getAttribute('data-drawn') ?? 0),
        canvas: !!canvas,
        coloured,
      };
    }),
  );
}

test(
  'a finished run: every chart of its Curves section is drawn, with all its points, without a reload',
  { timeout: 120_000 },
  async (t) => {
    const state = dumpOnFailure(t);
    // no smoothing: one line per run-level series, so the points drawn are the points stored
    await page.goto(`${stack.apiUrl}/runs/${ids.pretrain}?smooth=0`);
    await page.waitForSelector('.badge[data-status=SUCCEEDED]');
    await page.waitForFunction(
      (n) => {
        const charts = [...document.querySelectorAll('[data-testid^=chart-]')];
        return charts.length === n && charts.every((c) => Number(c.getAttribute('data-drawn')) > 0);
      },
      { timeout: 15_000 },
      RUN_SERIES.length + RANK_SERIES.length,
    );
    const charts = await chartsDrawn();
    assert.deepEqual(
      charts.map((c) => c.id),
      ['loss', 'lr', 'momentum', 'allreduce_ms', 'data_ms', 'grad_norm', 'images_per_s', 'step_ms', 'val_loss', 'val_top1', 'weight_norm'],
    );
    for (const c of charts) {
      const expected = RANK_SERIES.includes(c.id) ? 2 * STEPS : STEPS;
      assert.deepEqual([c.id, c.canvas, c.points, c.drawn], [c.id, true, expected, expected]);
      assert.ok(c.coloured > 100, `${c.id}: ${c.coloured} coloured pixels on its canvas`);
    }
    // smoothing on: a faint raw line and the smoothed one, both drawn, in the same charts (rebuilt)
    await page.evaluate(() => {
      const input = document.querySelector<HTMLInputElement>('input[aria-label="Smoothing weight"]')!;
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
      setter.call(input, '0.9');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid=chart-loss]')?.getAttribute('data-drawn')) === n,
      {},
      2 * STEPS,
    );
    assert.equal(new URL(page.url()).searchParams.get('smooth'), '0.9');
    await shot('run-finished');
    assert.deepEqual(
      log.filter((l) => l.startsWith('browser:')),
      [],
    );
    state.passed = true;
  },
);

test("an eval run's robustness tables show its report's numbers", { timeout: 60_000 }, async (t) => {
  const state = dumpOnFailure(t);
  await page.goto(`${stack.apiUrl}/runs/${ids.eval}`);
  await page.waitForSelector('[data-testid=robustness] table');
  // it wrote no metrics, and it is over: the Curves section says so (not "no metrics yet")
  assert.equal(await page.$eval('[data-testid=no-curves]', (e) => e.textContent), 'This run recorded no metrics.');
  const tables = await page.$$eval('[data-testid=robustness] table', (ts) =>
    ts.map((tb) => ({
      caption: tb.querySelector('caption')?.textContent ?? '',
      head: [...tb.querySelectorAll('thead th')].map((c) => c.textContent),
      rows: [...tb.querySelectorAll('tbody tr')].map((r) => [...r.children].map((c) => c.textContent)),
    })),
  );
  assert.deepEqual(tables, [
    {
      caption: 'Top-1 on 256 held-out images',
      head: ['clean', 'FGSM (ε 0.0078)', 'PGD (10 steps)', 'mCE'],
      rows: [['81.25%', '50.00%', '37.50%', '1.031']],
    },
    {
      caption: 'Top-1 under common corruptions, by severity',
      head: ['corruption', 'severity 1', 'severity 3', 'CE'],
      rows: [
        // in the report's key order as PostgreSQL's jsonb keeps it (shorter keys first)
        ['defocus_blur', '78.13%', '62.50%', '0.9375'],
        ['gaussian_noise', '75.00%', '50.00%', '1.125'],
      ],
    },
  ]);
  await shot('run-robustness');
  state.passed = true;
});

test('keyboard: the tab order of the shell, the skip link, and the g-shortcuts (never while typing)', { timeout: 60_000 }, async (t) => {
  const state = dumpOnFailure(t);
  await page.goto(`${stack.apiUrl}/runs/${ids.pretrain}`);
  await page.waitForSelector('.badge[data-status=SUCCEEDED]');
  const focused = () =>
    page.evaluate(() => {
      const a = document.activeElement as HTMLElement | null;
      return a ? `${a.tagName.toLowerCase()}:${(a.getAttribute('aria-label') ?? a.textContent ?? '').trim()}` : '';
    });
  // Tab from the top of the page walks the shell in order
  const order: string[] = [];
  for (let i = 0; i < 11; i++) {
    await page.keyboard.press('Tab');
    order.push(await focused());
  }
  assert.deepEqual(order, [
    'a:Skip to content',
    'a:CIM Forge home',
    'a:Runs',
    'a:Submit',
    'a:Compare',
    'a:Sweeps',
    'a:Correlation maps',
    'a:Queue',
    'button:Switch to dark theme',
    'button:Sign out',
    'a:Runs',
  ]);
  // the last one is the page's first link (its breadcrumb): the skip link jumps straight there
  assert.equal(await page.evaluate(() => document.activeElement?.closest('#main') !== null), true);
  // the skip link: focus goes to the main region, and the next Tab lands inside it
  await page.keyboard.down('Shift');
  for (let i = 0; i < 10; i++) await page.keyboard.press('Tab');
  await page.keyboard.up('Shift');
  assert.equal(await focused(), 'a:Skip to content');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'main');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'a:Runs');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('#main') !== null), true);
  assert.equal(new URL(page.url()).pathname, `/runs/${ids.pretrain}`);

  // g then a letter: a page; the nav link of that page is marked current
  const current = () => page.$eval('nav[aria-label=Pages] a[aria-current=page]', (a) => a.textContent);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  for (const [key, path, label] of [
    ['q', '/queue', 'Queue'],
    ['c', '/compare', 'Compare'],
    ['w', '/sweeps', 'Sweeps'],
    ['m', '/maps', 'Correlation maps'],
    ['s', '/submit', 'Submit'],
    ['r', '/runs', 'Runs'],
  ] as const) {
    await page.keyboard.press('g');
    await page.keyboard.press(key);
    await page.waitForFunction((p) => location.pathname === p, {}, path);
    assert.equal(await current(), label);
  }
  // a letter without g, or g then an unknown letter, goes nowhere
  await page.keyboard.press('q');
  await page.keyboard.press('g');
  await page.keyboard.press('x');
  await page.keyboard.press('q');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(new URL(page.url()).pathname, '/runs');
  // typing "gq" in the runs page's search field filters by that text and stays on the page
  await page.waitForSelector('input[type=search]');
  await page.click('input[type=search]');
  await page.keyboard.type('gq');
  await page.waitForFunction(() => new URLSearchParams(location.search).get('name') === 'gq');
  assert.equal(new URL(page.url()).pathname, '/runs');
  state.passed = true;
});

test(
  'the sweep page: the parallel-coordinates plot draws one line per trial, the curves and rungs draw, a trial opens its run',
  { timeout: 90_000 },
  async (t) => {
    const state = dumpOnFailure(t);
    // from the nav: the sweeps list, then the sweep
    await page.goto(`${stack.apiUrl}/runs`);
    await page.click('nav[aria-label=Pages] a[href="/sweeps"]');
    await page.waitForSelector(`tr[data-sweep-id="${sweep.id}"]`);
    const listRow = await page.$eval(`tr[data-sweep-id="${sweep.id}"]`, (r) => [...r.children].map((c) => c.textContent));
    assert.deepEqual(listRow.slice(0, 6), [`lr-asha ${sweep.id.slice(0, 8)}`, 'SUCCEEDED', 'finetune', '9', '3', '0']);
    await page.click(`tr[data-sweep-id="${sweep.id}"] a`);
    await page.waitForSelector('[data-testid=pcoords] polyline.pc-line');
    assert.equal(new URL(page.url()).pathname, `/sweeps/${sweep.id}`);

    // one polyline per trial, each through the baseLr axis (log) and the metric axis
    const lines = await page.$$eval('[data-testid=pcoords] polyline.pc-line[data-trial]', (ls) =>
      ls.map((l) => ({
        trial: Number(l.getAttribute('data-trial')),
        points: (l.getAttribute('points') ?? '').trim().split(/\s+/).length,
        len: (l as SVGPolylineElement).getTotalLength(),
      })),
    );
    assert.equal(lines.length, 9);
    assert.deepEqual(
      lines.map((l) => l.trial).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    for (const l of lines) assert.ok(l.points === 2 && l.len > 50, `trial ${l.trial}: ${l.points} points, ${l.len} long`);
    assert.deepEqual(
      await page.$$eval('[data-testid=pcoords] .pc-axis', (as) =>
        as.map((a) => [a.getAttribute('data-axis'), a.getAttribute('data-scale')]),
      ),
      [
        ['baseLr', 'log'],
        ['__metric', 'linear'],
      ],
    );
    // on the log axis, the learning rates' heights are evenly spaced (they are log-spaced): y of 1e-4, 1e-1 at the ends
    const ys = await page.$$eval('[data-testid=pcoords] polyline.pc-line[data-trial]', (ls) =>
      ls
        .map(
          (l) =>
            [Number(l.getAttribute('data-trial')), Number((l.getAttribute('points') ?? '').split(' ')[0].split(',')[1])] as [
              number,
              number,
            ],
        )
        .sort((a, b) => a[0] - b[0])
        .map(([, y]) => y),
    );
    const gaps = ys.slice(1).map((y, i) => ys[i] - y);
    for (const g of gaps) assert.ok(Math.abs(g - gaps[0]) < 1.5, `log-spaced learning rates sit evenly: ${gaps.join(', ')}`);

    // the trials table: 9 rows, the best in bold, stop reasons
    const rows = await page.$$eval('[data-testid=trials-table] tbody tr', (rs) => rs.map((r) => [...r.children].map((c) => c.textContent)));
    assert.equal(rows.length, 9);
    assert.deepEqual(rows[4].slice(0, 6), ['4', '0.00316', 'completed', '2 (18)', String(sweep.trials[4].metric), '']);
    assert.deepEqual(rows[0].slice(2, 6), ['stopped', '0 (2)', String(sweep.trials[0].metric), 'not in the top 1/3 at rung 0 (2 steps)']);

    // the metric of every trial over steps: every stored point drawn, and the 3 rungs marked
    const stored = sweep.trials.reduce((n, tr) => n + RUNGS[tr.rung], 0);
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid=sweep-curves]')?.getAttribute('data-drawn')) === n,
      { timeout: 15_000 },
      stored,
    );
    assert.equal(await page.$eval('[data-testid=sweep-curves]', (e) => e.getAttribute('data-marks')), '3');
    // best so far: 9 trials and 9 best-so-far values
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=sweep-best]')?.getAttribute('data-drawn')) === 18);
    await page.hover('[data-testid=pcoords] polyline.pc-line[data-trial="4"]');
    await shot('sweep');

    // a click on the best trial's line opens its run
    await page.click('[data-testid=pcoords] polyline.pc-line[data-trial="4"]');
    await page.waitForFunction((id) => location.pathname === `/runs/${id}`, {}, sweep.trials[4].runId);
    await page.waitForFunction(() => /lr-asha-4/.test(document.querySelector('h1')?.textContent ?? ''));
    // back, and a click on a row opens that trial's run
    await page.goBack();
    await page.waitForSelector('[data-testid=trials-table] tbody tr[data-trial="7"]');
    await page.click('[data-testid=trials-table] tbody tr[data-trial="7"] td:nth-child(3)');
    await page.waitForFunction((id) => location.pathname === `/runs/${id}`, {}, sweep.trials[7].runId);
    // and the run page offers a sweep from it: a finished pre-training pre-fills the ASHA fine-tuning sweep
    await page.goto(`${stack.apiUrl}/runs/${ids.pretrain}`);
    await page.waitForSelector('button::-p-text(Sweep from this run)');
    await page.click('button::-p-text(Sweep from this run)');
    await page.waitForSelector('textarea[name=base]');
    assert.equal(new URL(page.url()).pathname, '/sweeps/new');
    assert.deepEqual(JSON.parse(await page.$eval('textarea[name=base]', (e) => (e as HTMLTextAreaElement).value)), {
      kind: 'finetune',
      preset: 'smoke',
      source: { runId: ids.pretrain, checkpoint: 'latest' },
    });
    assert.deepEqual(JSON.parse(await page.$eval('textarea[name=space]', (e) => (e as HTMLTextAreaElement).value)), {
      baseLr: { loguniform: [0.0001, 0.1] },
    });
    assert.deepEqual(
      await page.$$eval('form[aria-label="New sweep"] select, form[aria-label="New sweep"] input:not([name=name])', (es) =>
        es.map((e) => [(e as HTMLInputElement).name, (e as HTMLInputElement).value]),
      ),
      [
        ['algorithm', 'asha'],
        ['seed', '0'],
        ['eta', '3'],
        ['metric', 'val_top1'],
        ['goal', 'max'],
        ['maxTrials', '9'],
        ['maxConcurrent', '3'],
      ],
    );
    await shot('sweep-new');
    assert.deepEqual(
      log.filter((l) => l.startsWith('browser:')),
      [],
    );
    state.passed = true;
  },
);
