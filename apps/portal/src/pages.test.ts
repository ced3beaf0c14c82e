// The portal's pages in jsdom against the real API (a child process on a temp PostgreSQL, Redis
// and s3rver; no controller, so submitted runs stay QUEUED): sign-in, the runs table's filters
// and sort living in the URL, the submit form's live validation and derived values, the queue
// with positions and cancel, and the correlation-map page on a server without the figures routes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiProcess, type ApiProcess } from './testing/api-process.ts';
import { click, h, installDom, render, setValue, waitFor, type Dom } from './testing/dom.ts';

let api: ApiProcess;
let token: string;
const ids: Record<string, string> = {};
let dom: Dom | undefined;
let unmount: (() => Promise<void>) | undefined;

before(async () => {
  api = await startApiProcess();
  token = await api.team('portal-pages');
  for (const name of ['alpha-1', 'beta-2', 'alpha-3']) {
    ids[name] = (await api.request<{ id: string }>(token, 'POST', '/v1/runs', { kind: 'pretrain', preset: 'smoke', name })).id;
  }
  await api.request(token, 'POST', `/v1/runs/${ids['alpha-3']}/cancel`);
});

after(async () => {
  await unmount?.();
  dom?.close();
  await api?.close();
});

/** mounts the whole app at `path`, signed in unless token is null */
async function open(path: string, signedIn: string | null = token) {
  await unmount?.();
  dom?.close();
  dom = installDom(`http://portal.test${path}`);
  if (signedIn) sessionStorage.setItem('cim-forge.token', signedIn);
  const { App } = await import('./app.tsx');
  ({ unmount } = await render(h(App, { base: api.url })));
}

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const $$ = (sel: string) => [...document.querySelectorAll(sel)];
const rowNames = () =>
  $$('[data-testid=runs-table] tbody tr[data-run-id]').map((r) => r.querySelector('.run-link')?.textContent?.split(' ')[0]);

test('sign-in refuses a wrong token with a reason, keeps the right one in sessionStorage only', async () => {
  await open('/runs', null);
  const input = await waitFor('the token field', () => $<HTMLInputElement>('#token'));
  await setValue(input, 'cimf_not-a-token');
  await click($('button[type=submit]')!);
  const alert = await waitFor('the refusal', () => $('[role=alert]'));
  assert.equal(alert.textContent, 'That token was not accepted (unknown or revoked).');
  await setValue(input, token);
  await click($('button[type=submit]')!);
  await waitFor('the runs table', () => rowNames().length === 3);
  assert.equal(sessionStorage.getItem('cim-forge.token'), token);
  assert.equal(location.href.includes(token), false);
});

test('runs: the name filter from the URL, a status filter and a sort written back to the URL', async () => {
  await open('/runs?name=alpha');
  await waitFor('two alpha runs', () => rowNames().length === 2);
  assert.deepEqual(rowNames(), ['alpha-3', 'alpha-1']);
  assert.equal($<HTMLInputElement>('input[type=search]')!.value, 'alpha');
  const status = $$('form.filters select')[0] as HTMLSelectElement;
  await setValue(status, 'CANCELLED');
  await waitFor('the cancelled one only', () => rowNames().length === 1);
  assert.deepEqual(rowNames(), ['alpha-3']);
  assert.equal(new URLSearchParams(location.search).get('status'), 'CANCELLED');
  assert.equal($(`tr[data-run-id="${ids['alpha-3']}"] .badge`)!.textContent, 'CANCELLED');
  await setValue(status, '');
  await waitFor('both again', () => rowNames().length === 2);
  // a click on the Run header sorts by name, a second click reverses it; both live in the URL
  const header = () => $$('th button.th-sort').find((b) => b.textContent?.startsWith('Run'))!;
  const order = () => (new URLSearchParams(location.search).get('dir') === 'asc' ? ['alpha-1', 'alpha-3'] : ['alpha-3', 'alpha-1']);
  await click(header());
  await waitFor('sorted by name', () => new URLSearchParams(location.search).get('sort') === 'name');
  const first = new URLSearchParams(location.search).get('dir');
  assert.deepEqual(rowNames(), order());
  await click(header());
  await waitFor('the other direction', () => new URLSearchParams(location.search).get('dir') !== first);
  assert.deepEqual(rowNames(), order());
});

test('submit: the API validates as you type, derived values follow the ranks, errors carry the reason, submit opens the run', async () => {
  await open('/submit');
  await waitFor('derived values', () => /global batch32 \(32 × 1\)/.test($('[data-testid=derived]')?.textContent ?? ''));
  await setValue($<HTMLInputElement>('input[name=worldSize]')!, '2');
  await waitFor('2 ranks', () => /global batch64 \(32 × 2\)/.test($('[data-testid=derived]')?.textContent ?? ''));
  const config = $<HTMLTextAreaElement>('textarea[name=config]')!;
  await setValue(config, '{"learningRate": 1}');
  const err = await waitFor('the API refusal', () => $('[data-testid=validation-error]'));
  assert.equal(err.textContent, 'body/config/learningRate is not allowed (unknown field)');
  assert.equal($<HTMLButtonElement>('button[type=submit].primary')!.disabled, true);
  await setValue(config, '{"epochs": 3}');
  await waitFor('the change listed', () => /epochs1 → 3/.test($('[data-testid=validation]')?.textContent ?? ''));
  await setValue($<HTMLInputElement>('input[name=name]')!, 'from-the-form');
  await waitFor('submit enabled', () => !$<HTMLButtonElement>('button[type=submit].primary')!.disabled);
  await click($('button[type=submit].primary')!);
  const id = await waitFor('the run page', () => /^\/runs\/([0-9a-f-]{36})$/.exec(location.pathname)?.[1]);
  const run = await api.request<{ name: string; worldSize: number; config: { epochs: number }; status: string }>(
    token,
    'GET',
    `/v1/runs/${id}`,
  );
  assert.deepEqual([run.name, run.worldSize, run.config.epochs, run.status], ['from-the-form', 2, 3, 'QUEUED']);
  await waitFor('its page', () => $('h1')?.textContent?.startsWith('from-the-form'));
});

test('queue: positions and estimated starts of the team runs; cancel removes one', async () => {
  await open('/queue');
  await waitFor('queued runs', () => $$('[data-testid=queue-table] tbody tr[data-run-id]').length >= 2);
  const rows = $$('[data-testid=queue-table] tbody tr[data-run-id]');
  assert.deepEqual(
    rows.map((r) => r.querySelector('td')!.textContent),
    rows.map((_, i) => `#${i + 1}`),
  );
  assert.match(rows[0].textContent!, /none: next/);
  assert.match(rows[1].textContent!, /1 run(?!s)/);
  const beta = $(`tr[data-run-id="${ids['beta-2']}"]`)!;
  await click(beta.querySelector('button')!);
  await waitFor('beta gone', () => !$(`tr[data-run-id="${ids['beta-2']}"]`));
  const after = await api.request<{ status: string }>(token, 'GET', `/v1/runs/${ids['beta-2']}`);
  assert.equal(after.status, 'CANCELLED');
});

test('correlation maps: without the figures routes the page says so; with them, a grid', async () => {
  const probe = await fetch(`${api.url}/v1/runs/${ids['alpha-1']}/figures`, { headers: { authorization: `Bearer ${token}` } });
  await open(`/maps?run=${ids['alpha-1']}`);
  if (probe.status === 404) {
    const note = await waitFor('the notice', () => $('[data-testid=figures-unavailable]'));
    assert.match(note.textContent!, /does not render correlation-map figures yet/);
  } else {
    assert.equal(probe.status, 200);
    await waitFor('the request form', () => $$('button').some((b) => b.textContent === 'Render on held-out images'));
  }
  await waitFor('the run heading', () => $('.maps-row h2')?.textContent?.startsWith('alpha-1'));
});

test('unmounted, the app leaves no timer behind (its query cache goes with it), so this process ends with its last test', async () => {
  await open('/runs');
  await waitFor('the runs table', () => rowNames().length >= 3);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  assert.ok(timers() > 0, 'a mounted app has query timers');
  await unmount!();
  unmount = undefined;
  // (waitFor's own poll timers are gone once it returns; what is left is the app's)
  assert.equal(timers(), 0, `timers left after unmount: ${JSON.stringify(process.getActiveResourcesInfo())}`);
});
