/**
 * Delivers webhooks. Runs inside the controller process (apps/worker/src/controller-main.ts): it
 * already holds Postgres and Redis, and any number of controllers may run it at once.
 *
 *   runs.status changes ─(trigger, same transaction)─▶ webhook_deliveries rows (pending)
 *   pump, every pollMs: rows not yet enqueued ─▶ BullMQ "cim-webhooks" (job id = row id, so two
 *                       controllers enqueueing the same row make one job) ─▶ enqueued_at
 *   BullMQ worker: sign (t=<now>), POST, record the attempt on the row; a failure is retried by
 *                  BullMQ with exponential backoff (backoffMs·2^(n-1)) up to `attempts` in all;
 *                  an address the policy refuses fails at once (no retry can help)
 */
import { UnrecoverableError, Queue, Worker, type Job } from 'bullmq';
import type { Db } from '@cim-forge/db';
import { redisConnection } from '@cim-forge/queue';
import type { AddressPolicy } from './address-policy.ts';
import { signatureHeader } from './signature.ts';
import { postWebhook } from './webhook-post.ts';

export const WEBHOOKS_QUEUE = 'cim-webhooks';

export interface WebhookJobData {
  deliveryId: string;
}

export interface WebhookDispatcherOptions {
  db: Db;
  redisUrl: string;
  /** BullMQ key prefix (CIM_QUEUE_PREFIX) */
  prefix?: string;
  policy: AddressPolicy;
  /** ms between scans for new deliveries (default 1000) */
  pollMs?: number;
  /** attempts per delivery, the first included (default 10) */
  attempts?: number;
  /** first retry delay, ms; doubles every retry (default 5000: retries over ~43 minutes) */
  backoffMs?: number;
  /** one attempt, ms (default 10000) */
  timeoutMs?: number;
  /** deliveries in flight at once (default 8) */
  concurrency?: number;
  /** finished deliveries are deleted after this many days (default 30) */
  retentionDays?: number;
  log?(msg: string, fields?: Record<string, unknown>): void;
}

export interface AttemptLogEntry {
  at: string;
  statusCode: number | null;
  error: string | null;
  ms: number;
}

const USER_AGENT = 'cim-forge-webhooks/0.1';
/** deliveries moved to BullMQ per scan */
const SCAN_BATCH = 500;
/** how often old deliveries are pruned, ms */
const PRUNE_EVERY_MS = 3_600_000;

export class WebhookDispatcher {
  private queue: Queue<WebhookJobData> | undefined;
  private worker: Worker<WebhookJobData> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<unknown> | undefined;
  private closing: Promise<void> | undefined;
  private lastPrune = 0;
  private readonly attempts: number;
  private readonly backoffMs: number;

  constructor(private readonly o: WebhookDispatcherOptions) {
    this.attempts = o.attempts ?? 10;
    this.backoffMs = o.backoffMs ?? 5000;
    if (!Number.isInteger(this.attempts) || this.attempts < 1)
      throw new RangeError(`attempts must be an integer ≥ 1, got ${this.attempts}`);
  }

  async start(): Promise<void> {
    const connection = redisConnection(this.o.redisUrl);
    this.queue = new Queue<WebhookJobData>(WEBHOOKS_QUEUE, { connection, prefix: this.o.prefix });
    this.worker = new Worker<WebhookJobData>(WEBHOOKS_QUEUE, (job) => this.deliver(job), {
      connection,
      prefix: this.o.prefix,
      concurrency: this.o.concurrency ?? 8,
    });
    this.worker.on('error', (e) => this.o.log?.(`webhook worker error: ${e.message}`));
    await Promise.all([this.queue.waitUntilReady(), this.worker.waitUntilReady()]);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closing) return;
    this.timer = setTimeout(() => {
      this.pumping = this.pump()
        .catch((e: Error) => this.o.log?.(`webhook scan failed, retrying: ${e.message.trim().split('\n').at(-1)}`))
        .finally(() => this.schedule(this.o.pollMs ?? 1000));
    }, ms);
  }

  /** Deletes finished deliveries older than the retention; the number deleted. */
  async prune(): Promise<number> {
    const days = this.o.retentionDays ?? 30;
    this.lastPrune = Date.now();
    return this.o.db.$executeRaw`DELETE FROM webhook_deliveries WHERE finished_at < now() - make_interval(days => ${days}::int)`;
  }

  /** Moves deliveries not yet enqueued to BullMQ; the number moved. */
  async pump(): Promise<number> {
    const { db } = this.o;
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) await this.prune();
    const rows = await db.$queryRaw<{ id: string }[]>`
      SELECT id::text FROM webhook_deliveries WHERE enqueued_at IS NULL ORDER BY created_at LIMIT ${SCAN_BATCH}`;
    if (rows.length === 0) return 0;
    await this.queue!.addBulk(
      rows.map((r) => ({
        name: 'deliver',
        data: { deliveryId: r.id },
        opts: {
          jobId: `whd-${r.id}`,
          attempts: this.attempts,
          backoff: { type: 'exponential', delay: this.backoffMs },
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 86_400 },
        },
      })),
    );
    const ids = rows.map((r) => r.id);
    await db.$executeRaw`UPDATE webhook_deliveries SET enqueued_at = now() WHERE id = ANY(${ids}::uuid[]) AND enqueued_at IS NULL`;
    return rows.length;
  }

  /** One attempt of one delivery; throws to have BullMQ retry it. */
  private async deliver(job: Job<WebhookJobData>): Promise<void> {
    const { db, policy } = this.o;
    const d = await db.webhookDelivery.findUnique({ where: { id: job.data.deliveryId }, include: { webhook: true } });
    // the webhook was deleted (its deliveries with it), or another job already settled this one
    if (!d || d.status !== 'pending') return;
    const t = Math.floor(Date.now() / 1000);
    const r = await postWebhook({
      url: d.webhook.url,
      body: d.payload,
      policy,
      timeoutMs: this.o.timeoutMs ?? 10_000,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-cim-event': d.event,
        'x-cim-delivery': d.id,
        'x-cim-signature': signatureHeader(d.webhook.secret, t, d.payload),
      },
    });
    const attempt = d.attempts + 1;
    const status = r.error === undefined ? 'succeeded' : r.refused || attempt >= this.attempts ? 'failed' : 'pending';
    const entry: AttemptLogEntry = { at: new Date().toISOString(), statusCode: r.statusCode ?? null, error: r.error ?? null, ms: r.ms };
    await db.$executeRaw`
      UPDATE webhook_deliveries
      SET attempts = attempts + 1, status = ${status}, status_code = ${r.statusCode ?? null}::int, error = ${r.error ?? null},
          last_attempt_at = now(), finished_at = CASE WHEN ${status} = 'pending' THEN NULL ELSE now() END,
          attempt_log = attempt_log || ${JSON.stringify([entry])}::jsonb
      WHERE id = ${d.id}::uuid`;
    this.o.log?.(`webhook delivery ${d.id} (${d.event}) attempt ${attempt}: ${r.error ?? `HTTP ${r.statusCode}`}`, {
      webhook_id: d.webhookId,
      run_id: d.runId,
    });
    if (r.error === undefined) return;
    if (status === 'failed') throw new UnrecoverableError(r.error);
    throw new Error(r.error);
  }

  /** Stops scanning, lets deliveries in flight finish; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.timer);
      await this.pumping;
      await this.worker?.close();
      await this.queue?.close();
    })();
    return this.closing;
  }
}
