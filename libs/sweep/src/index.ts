/** libs/sweep: a sweep's plan (trials, rungs) and its ASHA decisions — pure and deterministic, no tfjs, no I/O. */
export * from './resolve.ts';
export * from './asha.ts';
