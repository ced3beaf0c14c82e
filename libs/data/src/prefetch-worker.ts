import { parentPort, workerData } from 'node:worker_threads';
import type { ImageSource } from './image-source.ts';
import { loadSampleFunction, runSampleTasks, transferablesOf, type SampleFunction } from './sample-function.ts';
import { openSource } from './source-spec.ts';
import type { LoaderWorkerInit, ResultMessage, TaskMessage } from './worker-protocol.ts';

// A loader worker: opens the source and the sample function once, then answers TaskMessages
// with the samples, moving their typed arrays back to the main thread.
const init = workerData as LoaderWorkerInit;
const port = parentPort!;

const ready: Promise<{ source: ImageSource; fn: SampleFunction }> = (async () => {
  const [source, fn] = await Promise.all([openSource(init.source), loadSampleFunction(init.sampleModule, init.sampleExport)]);
  if (source.size !== init.sourceSize) {
    throw new Error(`${source.name} has ${source.size} images in a loader worker but ${init.sourceSize} in the main thread`);
  }
  return { source, fn };
})();
ready.catch(() => {}); // reported per task

port.on('message', (msg: TaskMessage) => {
  void handle(msg);
});

async function handle({ id, epoch, tasks }: TaskMessage): Promise<void> {
  let reply: ResultMessage;
  try {
    const { source, fn } = await ready;
    const samples = await runSampleTasks(source, fn, init.sampleOptions, epoch, tasks);
    reply = { id, ok: true, samples };
  } catch (err) {
    const e = err as Error;
    port.postMessage({ id, ok: false, message: e.message ?? String(err), stack: e.stack } satisfies ResultMessage);
    return;
  }
  try {
    port.postMessage(reply, transferablesOf(reply.samples));
    return;
  } catch {
    // some buffer could not be moved (e.g. external memory): copy instead, below
  }
  try {
    port.postMessage(reply);
  } catch (err) {
    const message = `samples of ${init.sampleExport} cannot be sent between threads: ${(err as Error).message}`;
    port.postMessage({ id, ok: false, message } satisfies ResultMessage);
  }
}
