/** An error that is the run's own fault (config, data, source, non-finite loss): never worth a restart. */
export class RunError extends Error {}
