import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, runLogger } from './index.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      buf
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger / runLogger', () => {
  it('writes one JSON object per line with service, bindings, level word and ISO time', () => {
    const { stream, lines } = capture();
    const log = createLogger({ service: 'worker', bindings: { worker: 'w-0' }, destination: stream });
    log.info({ step: 3 }, 'started');
    log.debug('hidden at info');
    const [l, ...rest] = lines();
    assert.equal(rest.length, 0);
    assert.equal(l.level, 'info');
    assert.equal(l.service, 'worker');
    assert.equal(l.worker, 'w-0');
    assert.equal(l.step, 3);
    assert.equal(l.msg, 'started');
    assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('every line from a run logger, and from its children, carries run_id and rank', () => {
    const { stream, lines } = capture();
    const log = createLogger({ service: 'worker', level: 'debug', destination: stream });
    const rl = runLogger(log, { run_id: 'run-7', rank: 2 });
    rl.info('rendezvous');
    rl.child({ phase: 'checkpoint' }).debug({ bytes: 10 }, 'written');
    rl.error(new Error('boom'));
    log.info('not from a run');
    const all = lines();
    assert.equal(all.length, 4);
    for (const l of all.slice(0, 3)) {
      assert.equal(l.run_id, 'run-7');
      assert.equal(l.rank, 2);
    }
    assert.equal(all[1].phase, 'checkpoint');
    assert.equal(all[2].level, 'error');
    assert.match(String((all[2].err as { message: string }).message), /boom/);
    assert.equal(all[3].run_id, undefined);
  });

  it('a controller run logger has run_id and no rank', () => {
    const { stream, lines } = capture();
    runLogger(createLogger({ service: 'controller', destination: stream }), { run_id: 'r' }).warn('restarting');
    const [l] = lines();
    assert.equal(l.run_id, 'r');
    assert.ok(!('rank' in l));
  });
});
