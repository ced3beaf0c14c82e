import { pino, type DestinationStream, type Logger } from 'pino';
import type { Service } from './catalogue.ts';

export type { Logger } from 'pino';

export interface LoggerOptions {
  service: Service | 'cli' | 'migrate';
  /** pino level; default 'info' (the apps pass LOG_LEVEL from their config) */
  level?: string;
  /** fields on every line, e.g. { worker: WORKER_ID } */
  bindings?: Record<string, string | number>;
  /** default stdout; tests pass a stream */
  destination?: DestinationStream;
}

/**
 * One JSON object per line on stdout: `level` as a word, `time` as ISO-8601, `service`, then the
 * bindings. Kubernetes and `docker compose logs` collect stdout; Loki or any JSON-aware shipper
 * can index `run_id`, `rank` and `service` without parsing messages.
 */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: opts.service, ...opts.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
}

/**
 * The logger for everything one rank of one run does: every line carries `run_id` and `rank`
 * (the controller, which acts for a whole run, leaves `rank` out).
 */
export function runLogger(logger: Logger, ids: { run_id: string; rank?: number }): Logger {
  return logger.child(ids.rank === undefined ? { run_id: ids.run_id } : { run_id: ids.run_id, rank: ids.rank });
}
