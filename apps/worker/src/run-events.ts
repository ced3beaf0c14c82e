/** "What happened to my run": one row per event in run_events (GET /v1/runs/:id/events). */
import type { Db, Prisma } from '@cim-forge/db';

export async function recordEvent(db: Db, runId: string, type: string, message: string, data?: Record<string, unknown>): Promise<void> {
  await db.runEvent.create({ data: { runId, type, message, data: data as Prisma.InputJsonValue | undefined } });
}
