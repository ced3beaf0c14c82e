/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The portal in a real browser (Debian's chromium through puppeteer-core) against the real stack
// (API serving the built portal, controller, two workers, PostgreSQL, Redis, s3rver): sign in with
// a team token, submit the smoke pre-training from the form, watch it run and finish live (the
// status and the loss curve change without a reload), compare two runs, fine-tune from the first
// in two clicks, and cancel that fine-tune while it is queued. Screenshots of every page go to
// PORTAL_SCREENSHOTS_DIR when set (`npm run portal:screenshots` writes docs/portal/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { type TempDatabase } from '@cim-forge/db/testing';
import { type Stack } from './stack.ts';
import { closeTestStack, startTestStack } from './test-stack.ts';
import { ensurePortalBuilt, launchChromium } from './portal-browser.ts';

let db: TempDatabase;
let dir: string;
let stack: Stack;
let browser: Browser;
let page: Page;
let token: string;
const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
const shots = process.env.PORTAL_SCREENSHOTS_DIR ? resolve(process.env.PORTAL_SCREENSHOTS_DIR) : undefined;
const log: string[] = [];

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
  // let charts finish their layout
  await new Promise((r) => setTimeout(r, 300));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

/** replaces a field's text as a user does: select all, then type */
async function replaceText(selector: string, text: string) {
  await page.focus(selector);
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  await page.type(selector, text);
}

/** the run id in the page's URL (/runs/<id>) */
function runIdOf(url: string): string {
  const m = /\/runs\/([0-9a-f-]{36})/.exec(url);
  assert.ok(m, `not a run page: ${url}`);
  return m[1];
}

before(async () => {
  ensurePortalBuilt();
  if (shots) await mkdir(shots, { recursive: true });
  ({ db, dir, stack } = await startTestStack({ name: 'portal', workers: 2, adminToken, log }));
  const team = await api<{ id: string }>('/v1/teams', { method: 'POST', body: JSON.stringify({ name: 'portal-e2e' }) }, adminToken);
  token = (await api<{ token: string }>('/v1/tokens', { method: 'POST', body: JSON.stringify({ teamId: team.id }) }, adminToken)).token;
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (err) => log.push(`browser: ${err}`));
});

after(async () => {
  await browser?.close();
  await closeTestStack({ db, dir, stack });
});

test(
  'sign in, submit the smoke preset, watch it finish live, compare two runs, fine-tune in two clicks, cancel a queued run',
  { timeout: 420_000 },
  async (t) => {
    let passed = false;
    t.after(() => {
      if (!passed)
        console.log(
          log
            .filter((l) => !l.includes('"incoming request"') && !l.includes('"request completed"'))
            .slice(-80)
            .join('\n'),
        );
    });
    // 1. sign in: a wrong token is refused with a reason, the team token is accepted
    await page.goto(`${stack.apiUrl}/`);
    await page.waitForSelector('#token');
    await shot('signin');
    await page.type('#token', 'cimf_wrong-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('[role=alert]');
    assert.match(await page.$eval('[role=alert]', (e) => e.textContent ?? ''), /not accepted/);
    await replaceText('#token', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=runs-table]');
    // the token is in session storage, never in the URL
    assert.equal(await page.evaluate(() => sessionStorage.getItem('cim-forge.token')), token);
    assert.ok(!page.url().includes(token));

    // 2. submit the smoke pre-training from the form; live validation shows the derived values
    await page.click('a[href="/submit"]');
    await page.waitForSelector('select[name=preset]');
    await page.select('select[name=preset]', 'smoke');
    await page.type('input[name=name]', 'e2e-smoke-a');
    await page.waitForSelector('[data-testid=derived]');
    const derived = await page.$eval('[data-testid=derived]', (e) => e.textContent ?? '');
    assert.match(derived, /global batch32 \(32 × 1\)/);
    // a bad override is refused by the API with its reason, and the submit button stays off
    await replaceText('textarea[name=config]', '{"batchSize": -1}');
    await page.waitForFunction(() => /batchSize/.test(document.querySelector('[data-testid=validation-error]')?.textContent ?? ''));
    assert.equal(await page.$eval('[data-testid=validation-error]', (e) => e.textContent ?? ''), 'body/config/batchSize must be >= 1');
    assert.equal(await page.$eval('button[type=submit].primary', (e) => (e as HTMLButtonElement).disabled), true);
    // a smaller data set than the preset's keeps this test within minutes on 2 cores (6 steps)
    await replaceText('textarea[name=config]', '{"dataset": {"kind": "synthetic", "size": 192, "imageSize": 48, "seed": 0}}');
    await page.waitForFunction(() => /dataset\.size1024 → 192/.test(document.querySelector('[data-testid=validation]')?.textContent ?? ''));
    await shot('submit');
    await page.waitForFunction(() => !(document.querySelector('button[type=submit].primary') as HTMLButtonElement).disabled);
    await page.click('button[type=submit].primary');
    await page.waitForFunction(() => /\/runs\/[0-9a-f-]{36}$/.test(location.pathname));
    const runA = runIdOf(page.url());

    // a second run, from the API, with another learning rate: the one to compare with
    const runB = (
      await api<{ id: string }>('/v1/runs', {
        method: 'POST',
        body: JSON.stringify({
          kind: 'pretrain',
          preset: 'smoke',
          name: 'e2e-smoke-b',
          config: { baseLr: 3e-3, dataset: { kind: 'synthetic', size: 192, imageSize: 48, seed: 0 } },
        }),
      })
    ).id;

    // 3. watch run A live: with no reload, the badge goes RUNNING and the loss curve grows, then SUCCEEDED
    const seen = { runningWithPoints: 0, statuses: new Set<string>() };
    const deadline = Date.now() + 300_000;
    let status = '';
    while (Date.now() < deadline) {
      const s = await page.evaluate(() => ({
        status: document.querySelector('.badge')?.getAttribute('data-status') ?? '',
        points: Number(document.querySelector('[data-testid=chart-loss]')?.getAttribute('data-points') ?? 0),
        live: document.querySelector('[data-testid=live-state]')?.textContent ?? '',
      }));
      status = s.status;
      seen.statuses.add(s.status);
      if (s.status === 'RUNNING' && s.points > 0) seen.runningWithPoints = Math.max(seen.runningWithPoints, s.points);
      if (s.status === 'RUNNING' && s.points > 0 && !log.some((l) => l.startsWith('shot:run-live'))) {
        log.push('shot:run-live');
        await shot('run-live');
      }
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(s.status)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 'SUCCEEDED', `run A ended ${status}`);
    assert.ok(seen.statuses.has('RUNNING'), `statuses seen: ${[...seen.statuses]}`);
    assert.ok(seen.runningWithPoints > 0, 'the loss curve had points while the run was RUNNING (streamed)');
    // the finished run: the curve holds every step, checkpoints and the timeline are there
    const loss = await api<{ total: number }>(`/v1/runs/${runA}/metrics?name=loss`);
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid=chart-loss]')?.getAttribute('data-points')) >= n,
      { timeout: 20_000 },
      loss.total,
    );
    await page.waitForSelector('[data-testid=checkpoints] button');
    const timeline = await page.$eval('[data-testid=timeline]', (e) => e.textContent ?? '');
    assert.match(timeline, /run\.queued/);
    assert.match(timeline, /checkpoint/);
    await shot('run');
    // the dark theme of the same page
    await page.click('button[aria-label="Switch to dark theme"]');
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    await shot('run-dark');
    await page.click('button[aria-label="Switch to light theme"]');

    // 4. wait for B, then compare A and B from the runs table
    for (;;) {
      const r = await api<{ status: string }>(`/v1/runs/${runB}`);
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status)) {
        assert.equal(r.status, 'SUCCEEDED');
        break;
      }
      assert.ok(Date.now() < deadline, `run B still ${r.status}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await page.click('a[href="/runs"]');
    await page.waitForSelector(`tr[data-run-id="${runB}"]`);
    // best and last loss are filled in from the API's min/max downsampling
    await page.waitForFunction(
      (id) => /\d/.test(document.querySelector(`tr[data-run-id="${id}"] td:last-child`)?.textContent ?? ''),
      {},
      runA,
    );
    // sorting puts state in the URL
    await page.click('th button.th-sort');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('sort') === 'name');
    await page.click(`tr[data-run-id="${runA}"] input[type=checkbox]`);
    await page.click(`tr[data-run-id="${runB}"] input[type=checkbox]`);
    await shot('runs');
    await page.click('button::-p-text(Compare selected (2))');
    await page.waitForSelector('[data-testid=compare-chart][data-points]');
    const params = await page.evaluate(() => new URLSearchParams(location.search).getAll('run'));
    assert.deepEqual(params.sort(), [runA, runB].sort());
    await page.waitForFunction(() => /baseLr/.test(document.querySelector('[data-testid=config-diff]')?.textContent ?? ''));
    const diff = await page.$eval('[data-testid=config-diff] tbody', (e) => e.textContent ?? '');
    // only the field that differs
    assert.equal(diff, 'baseLr0.00150.003');
    await shot('compare');

    // 5. correlation maps: the held-out figure a worker drew at A's checkpoint, shown as a loaded image
    await page.goto(`${stack.apiUrl}/maps?run=${runA}`);
    await page.waitForFunction(
      () => [...document.querySelectorAll<HTMLImageElement>('.maps-grid img')].some((img) => img.complete && img.naturalWidth > 0),
      { timeout: 120_000 },
    );
    const figure = await page.$eval('.maps-grid img', (img) => ({
      w: (img as HTMLImageElement).naturalWidth,
      h: (img as HTMLImageElement).naturalHeight,
    }));
    assert.ok(figure.w >= 200 && figure.h >= 200, `the figure is a real picture: ${figure.w}×${figure.h}`);
    assert.equal(await page.$('[data-testid=figures-unavailable]'), null);
    await shot('maps');

    // 6. fine-tune from A in two clicks, with the controller stopped so it stays queued; cancel it from the queue
    await stack.stop('controller');
    await page.goto(`${stack.apiUrl}/runs/${runA}`);
    // enabled once its checkpoints have loaded
    await page.waitForFunction(() =>
      [...document.querySelectorAll('button')].some((b) => b.textContent === 'Fine-tune from this run' && !b.disabled),
    );
    await page.click('button::-p-text(Fine-tune from this run)');
    await page.waitForFunction(() => {
      const b = document.querySelector('button[type=submit].primary') as HTMLButtonElement | null;
      return b && !b.disabled && document.querySelector('[data-testid=derived]');
    });
    assert.match(await page.$eval('[data-testid=derived]', (e) => e.textContent ?? ''), /source checkpointstep \d+, online encoder/);
    await page.click('button[type=submit].primary');
    await page.waitForFunction((a) => /\/runs\/[0-9a-f-]{36}$/.test(location.pathname) && !location.pathname.includes(a), {}, runA);
    const ft = runIdOf(page.url());
    const ftRow = await api<{ kind: string; status: string; source: { runId: string } }>(`/v1/runs/${ft}`);
    assert.deepEqual([ftRow.kind, ftRow.status, ftRow.source.runId], ['finetune', 'QUEUED', runA]);
    await page.waitForSelector('[data-testid=lineage]');
    await page.click('a[href="/queue"]');
    await page.waitForSelector(`tr[data-run-id="${ft}"]`);
    assert.match(await page.$eval(`tr[data-run-id="${ft}"]`, (e) => e.textContent ?? ''), /#1.*finetune.*none: next/);
    await shot('queue');
    await page.click(`tr[data-run-id="${ft}"] button::-p-text(Cancel)`);
    await page.waitForFunction((id) => !document.querySelector(`tr[data-run-id="${id}"]`), {}, ft);
    assert.equal((await api<{ status: string }>(`/v1/runs/${ft}`)).status, 'CANCELLED');
    assert.deepEqual(
      log.filter((l) => l.startsWith('browser:')),
      [],
    );
    passed = true;
  },
);
