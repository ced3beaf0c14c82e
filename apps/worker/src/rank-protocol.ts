/**
 * The contract between a worker process and the rank process it spawns for one rank job
 * (rank-runner.ts): the job arrives as JSON in argv, progress comes back as IPC messages, and the
 * exit code says how the rank ended (EXIT, libs/db run-lifecycle.ts) — the controller restarts, requeues or
 * fails the run on it.
 */
import type { RankJobData } from '@cim-forge/queue';

// the exit codes and their categories live with the rest of the run lifecycle (libs/db run-lifecycle.ts)
export { EXIT, categoryOfExit, type ExitCategory } from '@cim-forge/db';
import type { ExitCategory } from '@cim-forge/db';

export interface RankRunnerArgs extends RankJobData {
  workerId: string;
}

export type RankMessage =
  | { type: 'joined'; backend?: string }
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      loss: number;
      lr: number;
      momentum?: number;
      imagesPerSec: number;
      stepSeconds: number;
      dataWaitSeconds: number;
      allReduceSeconds: number;
      allReduceBytes: number;
    }
  | { type: 'checkpoint'; id: string; step: number; bytes: number; seconds: number }
  | { type: 'failed'; category: ExitCategory; message: string };
