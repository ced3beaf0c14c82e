/**
 * Rank 0 asks for a held-out figure of every COMPLETE checkpoint of a pre-training: a "pending"
 * row (at most one per checkpoint, however often a restarted gang completes it) and a job on
 * "cim-figures". A failure here is logged and never fails the rank: training goes on without it.
 */
import type { Queue } from 'bullmq';
import type { Db } from '@cim-forge/db';
import { enqueueFigure, figuresQueue, type FigureJobData } from '@cim-forge/queue';

export class HeldoutFigures {
  private queue: Queue<FigureJobData> | undefined;

  constructor(private readonly o: { db: Db; redisUrl: string; prefix: string; log(msg: string): void }) {}

  async request(runId: string, checkpointId: string, step: number): Promise<void> {
    try {
      const rows = await this.o.db.$queryRaw<{ id: string }[]>`
        INSERT INTO figures (run_id, checkpoint_id, step, source) VALUES (${runId}::uuid, ${checkpointId}::uuid, ${step}, 'heldout')
        ON CONFLICT (checkpoint_id) WHERE source = 'heldout' DO NOTHING
        RETURNING id::text`;
      if (rows.length === 0) return;
      this.queue ??= figuresQueue({ redisUrl: this.o.redisUrl, prefix: this.o.prefix });
      await enqueueFigure(this.queue, rows[0].id);
    } catch (e) {
      this.o.log(`held-out figure for checkpoint ${checkpointId} not requested: ${(e as Error).message.trim().split('\n').at(-1)}`);
    }
  }

  async close(): Promise<void> {
    await this.queue?.close().catch(() => {});
    this.queue = undefined;
  }
}
