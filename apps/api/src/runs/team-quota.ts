/**
 * A team's quotas at submission: the highest priority it may ask for (403 above it), the runs it
 * may have waiting and the ranks it may hold (429 with Retry-After over them). A team without a
 * quota of its own gets the API's default (CIM_DEFAULT_MAX_QUEUED_RUNS, CIM_DEFAULT_MAX_ACTIVE_RANKS),
 * so no team is unlimited unless an admin says so with a large number.
 *
 * Counted from the runs table inside the transaction that inserts the run, after locking the team's
 * row (`lockTeam`): a second submission of the same team waits for the first to commit and then
 * counts its run, so two submissions racing for the last free slot cannot both pass, on one API
 * replica or several.
 */
import { DEFAULT_QUOTAS, lockTeam, teamQuotaShortfall, type DbClient, type DefaultQuotas } from '@cim-forge/db';
import { TooManyRequests, forbidden } from '../http-error.ts';

export { DEFAULT_QUOTAS, lockTeam, type DefaultQuotas };

/** Retry-After for a quota refusal, s: about how long a queued run takes to move */
export const QUOTA_RETRY_AFTER_S = 60;

/**
 * Runs `fn` after every earlier `withTeamGate` of the same team in this process has settled: a
 * team's locked transactions (submissions, import reservations) wait for each other here, in
 * memory, instead of each holding a pooled PostgreSQL connection while it waits for the team's row
 * lock. A team flooding submissions then holds at most one connection per API replica for them,
 * and other teams' requests keep the rest of the pool (issue 24, the load test's fairness at p99).
 * The row lock still decides across replicas.
 */
export async function withTeamGate<T>(teamId: string, fn: () => Promise<T>): Promise<T> {
  const before = gates.get(teamId) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = before.then(() => mine);
  gates.set(teamId, tail);
  try {
    await before;
    return await fn();
  } finally {
    release();
    if (gates.get(teamId) === tail) gates.delete(teamId);
  }
}
const gates = new Map<string, Promise<void>>();

/** the number of teams with a gated transaction running or waiting in this process (tests) */
export const gatedTeams = () => gates.size;


/** run inside the inserting transaction, after `lockTeam` */
export async function checkTeamQuota(db: DbClient, teamId: string, worldSize: number, priority: number, defaults = DEFAULT_QUOTAS): Promise<void> {
  const row = await db.team.findUnique({ where: { id: teamId }, select: { maxPriority: true } });
  if (!row) return;
  if (row.maxPriority !== null && priority > row.maxPriority) {
    throw forbidden(`body/priority ${priority} is above this team's highest priority ${row.maxPriority} (an admin sets it with PATCH /v1/teams/:id)`);
  }
  const short = await teamQuotaShortfall(db, teamId, worldSize, defaults);
  if (!short) return;
  const why = short.fromDefault ? " (the API's default)" : '';
  if (short.quota === 'queued') {
    throw new TooManyRequests(
      `this team has ${short.have} queued runs, its quota is ${short.max}${why}: retry when one has started`,
      QUOTA_RETRY_AFTER_S,
    );
  }
  throw new TooManyRequests(
    `this team's active runs hold ${short.have} ranks; ${short.asked} more would pass its quota of ` +
      `${short.max}${why}: retry when a run has finished`,
    QUOTA_RETRY_AFTER_S,
  );
}
