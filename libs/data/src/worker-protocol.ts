import type { SampleTask } from './sample-function.ts';
import type { SourceSpec } from './source-spec.ts';

/** workerData of a loader worker. */
export interface LoaderWorkerInit {
  /** file: URL of the module the bootstrap imports (prefetch-worker.ts) */
  entry: string;
  source: SourceSpec;
  /** the size the main thread saw, checked by the worker */
  sourceSize: number;
  sampleModule: string;
  sampleExport: string;
  sampleOptions: unknown;
}

/** main → worker */
export interface TaskMessage {
  id: number;
  epoch: number;
  tasks: SampleTask[];
}

/** worker → main */
export type ResultMessage = { id: number; ok: true; samples: unknown[] } | { id: number; ok: false; message: string; stack?: string };
