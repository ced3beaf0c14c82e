/**
 * A run's statuses. The database's enum (prisma/schema.prisma) is the truth; this is its one
 * TypeScript declaration: the API's schemas take their enum from it, the OpenAPI document and the
 * generated client (`@cim-forge/client`, read by the portal) from those.
 */
import { RunStatus } from './generated/prisma/enums.ts';

/** every status, in the order of a run's life */
export const RUN_STATUSES: readonly RunStatus[] = Object.values(RunStatus);
/** a run that may still take resources */
export const ACTIVE_RUN_STATUSES = ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING'] as const satisfies readonly RunStatus[];
/** a run that has ended */
export const TERMINAL_RUN_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const satisfies readonly RunStatus[];
/** a run that holds nothing now but may go on: a sweep's trial ended at its rung, resumable from its checkpoint */
export const PAUSED_RUN_STATUSES = ['PAUSED'] as const satisfies readonly RunStatus[];

// active, paused and terminal split the enum: a status added to prisma/schema.prisma must join one of them
type Unsorted = Exclude<
  RunStatus,
  (typeof ACTIVE_RUN_STATUSES)[number] | (typeof TERMINAL_RUN_STATUSES)[number] | (typeof PAUSED_RUN_STATUSES)[number]
>;
const everyStatusSorted: [Unsorted] extends [never] ? true : Unsorted = true;
void everyStatusSorted;
