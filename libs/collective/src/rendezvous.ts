/**
 * Rendezvous: all `worldSize` ranks of a run join a roster hash in Redis within the timeout.
 * The join that completes the roster picks the gang's generation (its own random id), deletes
 * the roster and pushes the generation to every waiting member's notification list, on which
 * they block (BLPOP on the reader). A restarted gang therefore gets a fresh generation and
 * never reads a dead gang's keys. A waiting member that times out leaves the roster (so a retry
 * is not mistaken for a second process with its rank) and names the ranks that never came.
 */
import { randomBytes } from 'node:crypto';
import { CollectiveTimeoutError, rankList } from './collective-timeout-error.ts';
import type { RedisLink } from './redis-link.ts';

/** ms a waiting member keeps listening after its leave found the roster already sealed */
const SEALED_GRACE_MS = 2000;

export interface RendezvousRequest {
  keyPrefix: string;
  runId: string;
  rank: number;
  worldSize: number;
  timeoutMs: number;
}

/** Joins the gang; resolves with its generation id. */
export async function rendezvous(link: RedisLink, q: RendezvousRequest): Promise<string> {
  const base = `${q.keyPrefix}:${q.runId}`;
  const roster = `${base}:roster`;
  const notifyPrefix = `${base}:joined:`;
  const token = randomBytes(8).toString('hex');
  const what = `rendezvous for run ${q.runId}`;
  const started = Date.now();
  const reply = await link.writer.cimJoin(
    roster,
    q.rank,
    q.worldSize,
    token,
    randomBytes(6).toString('hex'),
    q.timeoutMs,
    notifyPrefix,
    q.timeoutMs + 60_000,
  );
  switch (reply[0]) {
    case 'sealed':
      return reply[1];
    case 'duplicate':
      throw new Error(
        `${what}: rank ${q.rank} joined twice (another process joined as rank ${q.rank} ${reply[1]} ms ago and is still waiting)`,
      );
    case 'worldSize':
      throw new Error(
        `${what}: worldSize mismatch: rank ${q.rank} joined with worldSize ${q.worldSize}, rank ${reply[1]} with worldSize ${reply[2]}`,
      );
  }
  const notifyKey = notifyPrefix + token;
  const wait = async (ms: number): Promise<string | undefined> => {
    const got = await link.reader.blpop(notifyKey, (Math.max(1, ms) / 1000).toFixed(3));
    return got?.[1];
  };
  const generation = await wait(started + q.timeoutMs - Date.now());
  if (generation) return generation;

  // timed out: leave (unless the gang was sealed in between), then see who came: every entry
  // whose wait overlapped this one (deadline after this join), members or already left
  const left = await link.writer.cimLeave(roster, q.rank, token);
  const joinedMs = Number(reply[2]);
  const present = new Set<number>([q.rank]);
  for (const [r, v] of Object.entries(await link.writer.hgetall(roster))) if (Number(v.split('|')[1]) >= joinedMs) present.add(Number(r));
  if (left === 0) {
    const late = await wait(SEALED_GRACE_MS);
    if (late) return late;
  }
  const missing = Array.from({ length: q.worldSize }, (_, r) => r).filter((r) => !present.has(r));
  throw new CollectiveTimeoutError(
    `${what} timed out after ${q.timeoutMs} ms: ${missing.length ? rankList(missing) : 'no rank'} of ${q.worldSize} never joined`,
    what,
    q.timeoutMs,
    missing,
  );
}
