/** The API restarted mid-run: training does not depend on it; it answers again afterwards. */
import { Checks, type Scenario } from '../harness.ts';
import { finishedLikeReference } from '../outcome.ts';

export const restartApi: Scenario = {
  name: 'restart the API',
  expected: 'SUCCEEDED with the uninterrupted weights; GET /v1/runs/:id and /events answer after the restart',
  async run(h) {
    const c = new Checks();
    const id = await h.submit();
    await h.waitForStep(id, 5);
    await h.stack.restart('api', 'SIGKILL');
    await finishedLikeReference(h, id, c);
    const viaApi = await h.api<{ status: string }>(`/v1/runs/${id}`);
    const events = await h.api<{ events: { type: string }[] }>(`/v1/runs/${id}/events`);
    c.that(
      viaApi.status === 'SUCCEEDED' && events.events.at(-1)?.type === 'run.succeeded',
      `API says ${viaApi.status}, last event ${events.events.at(-1)?.type}`,
    );
    return c.result();
  },
};
