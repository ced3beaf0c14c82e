/**
 * The contract between a worker process and the rank process it spawns for one rank job
 * (rank-runner.ts): the job arrives as JSON in argv, progress comes back as IPC messages, and the
 * exit code says how the rank ended — the controller restarts, requeues or fails the run on it.
 */
import type { RankJobData } from '@cim-forge/queue';

export const EXIT = {
  /** trained to the end (or evaluated) */
  ok: 0,
  /** the run's own fault: bad config, data too small, non-finite loss — fail the run at once */
  user: 10,
  /** the gang never assembled within the rendezvous timeout — release and requeue with backoff */
  rendezvous: 11,
  /** the platform's fault: a peer died or hung, Redis/S3/Postgres lost — restart from a checkpoint */
  infra: 12,
  /** stopped on request (SIGTERM: eviction, spot notice) after a checkpoint — requeue, no budget */
  stopped: 13,
} as const;

export type ExitCategory = keyof typeof EXIT;

export function categoryOfExit(code: number | null, signal: NodeJS.Signals | null): ExitCategory {
  if (signal) return 'infra';
  for (const [k, v] of Object.entries(EXIT)) if (v === code) return k as ExitCategory;
  return 'infra';
}

export interface RankRunnerArgs extends RankJobData {
  workerId: string;
}

export type RankMessage =
  | { type: 'joined'; backend?: string }
  | { type: 'step'; step: number; totalSteps: number; loss: number; lr: number; momentum?: number; imagesPerSec: number; stepSeconds: number; dataWaitSeconds: number; allReduceSeconds: number; allReduceBytes: number }
  | { type: 'checkpoint'; id: string; step: number; bytes: number; seconds: number }
  | { type: 'failed'; category: ExitCategory; message: string };
