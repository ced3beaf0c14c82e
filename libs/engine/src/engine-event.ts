/** What the engine reports to its caller as data (the worker records these in the run's events). */
export type EngineEvent =
  | { type: 'checkpoint.skipped'; checkpoint: string; reason: string }
  | { type: 'checkpoint.resumed'; checkpoint: string; step: number };
