/**
 * Redis could not be reached or dropped the connection. The collective is unusable afterwards
 * (its operations are numbered, and a lost connection leaves the gang out of step): the run
 * should fail and be restarted from its last checkpoint.
 */
export class RedisUnreachableError extends Error {
  override readonly name = 'RedisUnreachableError';

  constructor(
    /** the Redis URL with any password masked */
    readonly url: string,
    readonly reason: string,
    /** the operation that failed, e.g. "all-reduce 17" */
    readonly operation?: string,
  ) {
    super(`Redis at ${url} is unreachable${operation ? ` during ${operation}` : ''}: ${reason}`);
  }
}

/** `url` with any password replaced by "***", for messages and logs. */
export function maskRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
