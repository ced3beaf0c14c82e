import { CimApiError, createCimClient, expectOk } from '@cim-forge/client';

/** Submit the smoke pre-training, follow it, cancel it; every line it printed. */
export async function submitAndCancel(baseUrl: string, token: string): Promise<string[]> {
  const out: string[] = [];
  const cim = createCimClient({ baseUrl, token });

  // what can be run: the presets of each kind
  const presets = await expectOk(cim.GET('/v1/presets'));
  out.push(`pretrain presets: ${presets.pretrain.map((p) => p.name).join(', ')}`);

  // check a submission without queueing it, then submit it (the body is typed from the OpenAPI document)
  const body = { kind: 'pretrain', preset: 'smoke', name: 'client-example' } as const;
  const check = await cim.POST('/v1/runs', { body: { ...body, validateOnly: true } });
  out.push(`validateOnly: HTTP ${check.response.status}`);
  const run = await expectOk(cim.POST('/v1/runs', { body }));
  // 201 is the run; 200 is a validateOnly answer or an Idempotency-Key replay: the types say so
  if (!('id' in run)) throw new Error('expected the new run');
  out.push(`submitted ${run.id}: ${run.status}, world size ${run.worldSize}`);

  // its place in the queue and what happened to it so far
  const queue = await expectOk(cim.GET('/v1/queue'));
  out.push(`queue: ${queue.runs.length} run(s) waiting`);
  const { events } = await expectOk(cim.GET('/v1/runs/{id}/events', { params: { path: { id: run.id } } }));
  out.push(`events: ${events.map((e) => e.type).join(', ')}`);

  // cancel it
  const cancelled = await expectOk(cim.POST('/v1/runs/{id}/cancel', { params: { path: { id: run.id } } }));
  out.push(`cancelled: ${cancelled.status}`);

  // errors arrive as CimApiError with the API's status and message
  try {
    await expectOk(cim.POST('/v1/runs/{id}/cancel', { params: { path: { id: run.id } } }));
  } catch (e) {
    if (!(e instanceof CimApiError)) throw e;
    out.push(`cancel again: ${e.statusCode}`);
  }
  return out;
}
