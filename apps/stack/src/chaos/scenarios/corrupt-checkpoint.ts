/**
 * A corrupt checkpoint: the gang is frozen (SIGSTOP), a byte of the newest COMPLETE checkpoint's
 * model.safetensors is flipped in S3, then both ranks are killed. The restarted gang must refuse
 * it (sha256 mismatch), resume from the previous COMPLETE one, and say so in the events.
 */
import { Checks, sleep, type Scenario } from '../harness.ts';
import { finishedLikeReference } from '../outcome.ts';

export const corruptCheckpoint: Scenario = {
  name: 'corrupt the newest checkpoint, then kill the gang',
  expected: 'checkpoint.skipped names it (sha256); resumed from the previous COMPLETE one; SUCCEEDED with the uninterrupted weights',
  async run(h) {
    const c = new Checks();
    const id = await h.submit();
    await h.waitForStep(id, 7);
    const ranks = [await h.rankPidOf(id, 0), await h.rankPidOf(id, 1)];
    for (const r of ranks) process.kill(r.pid, 'SIGSTOP');
    await sleep(300);
    const complete = await h.checkpoints(id);
    const victim = complete.at(-1)!;
    const previous = complete.at(-2);
    await h.corrupt(id, victim.storeId);
    for (const r of ranks) process.kill(r.pid, 'SIGKILL');
    await finishedLikeReference(h, id, c);
    const ev = await h.events(id);
    const skipped = ev.find((e) => e.type === 'checkpoint.skipped');
    c.that(
      skipped?.data?.checkpoint === victim.storeId && /sha256/.test(skipped.message),
      `event: ${skipped?.message ?? 'no checkpoint.skipped'}`,
    );
    const resumed = ev.find((e) => e.type === 'run.resumed');
    c.that(
      !!previous && resumed?.data?.checkpoint === previous.storeId,
      `event: ${resumed?.message ?? 'no run.resumed'} (previous COMPLETE: ${previous?.storeId})`,
    );
    return c.result();
  },
};
