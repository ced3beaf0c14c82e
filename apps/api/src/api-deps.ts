/** What the API is built from; the caller (main.ts or a test) owns and closes every one of them. */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Registry } from 'prom-client';
import type { LoggerOptions } from 'pino';
import type { Db } from '@cim-forge/db';
import type { FigureJobData, RunJobData } from '@cim-forge/queue';
import type { AddressPolicy, Resolver } from '@cim-forge/webhooks';

export interface ApiDeps {
  db: Db;
  /** for cancel publishes and /readyz (not the BullMQ connection) */
  redis: Redis;
  runsQueue: Queue<RunJobData>;
  /** BullMQ key prefix; also prefixes the cancel channel (default "bull") */
  queuePrefix?: string;
  s3: { client: S3Client; bucket: string };
  /** CIM_ADMIN_TOKEN */
  adminToken?: string;
  /** CIM_METRICS_TOKEN: set, /metrics, /docs and /docs/json need `Authorization: Bearer <it>`; unset, they are open */
  metricsToken?: string;
  /** where /metrics reads from; default a fresh registry with the default process metrics */
  registry?: Registry;
  logger?: boolean | LoggerOptions;
  /** lifetime of presigned download URLs, s (default 900) */
  presignSeconds?: number;
  /** browser origins allowed by CORS (CIM_CORS_ORIGINS); default none */
  corsOrigins?: string[];
  /** which addresses a webhook URL may resolve to (CIM_WEBHOOK_ALLOWED_NETWORKS); default: public ones only */
  webhookPolicy?: AddressPolicy;
  /** resolves webhook hosts at registration (default the system's DNS) */
  webhookResolver?: Resolver;
  /** where figure jobs go; default a queue on the runs queue's connection and prefix, closed with the app */
  figuresQueue?: Queue<FigureJobData>;
  /** what one worker (one rank) can hold, bytes: runs estimated above it are refused (default 80 GiB) */
  workerMemoryBytes?: number;
  /** quotas of a team with none of its own (default 100 queued runs, 64 active ranks) */
  defaultQuotas?: { maxQueuedRuns: number; maxActiveRanks: number };
  /** imports a team may hold and their bytes together (default 100 and 100 GiB) */
  importLimits?: { count: number; bytes: number };
  /** an import reservation whose URL expired this long ago without an upload is swept, ms (default 1 h) */
  importSweepGraceMs?: number;
  /** how often the API sweeps abandoned imports, ms (default 60 000; 0 = only when a team asks for an import) */
  importSweepEveryMs?: number;
  /** uploaded figures of one run waiting to be drawn (default 10) */
  figureUploadsPerRun?: number;
  /** per-token request limit on /v1 (default 600 a minute) */
  rateLimit?: { max: number; windowMs: number };
  /** a rate-limit refusal answered from memory waits this long first, ms (default 500; 0 = at once) */
  rateLimitRefusalDelayMs?: number;
  /** Fastify's trustProxy (CIM_TRUST_PROXY): whose X-Forwarded-For names the client; default none */
  trustProxy?: number | string;
  /** per-IP request limit on /v1, counted before the token is looked at (default 1200 a minute) */
  ipRateLimit?: { max: number; windowMs: number };
  /** open streams per token and per team, and a stream's longest life in s (default 5, 20, 3600) */
  streamLimits?: { perToken?: number; perTeam?: number; maxSeconds?: number };
  /** rows per read when a stream resume pages through history (default 1000 events, 5000 points) */
  streamPages?: { events: number; metrics: number };
  /** how often live streams read PostgreSQL, ms (default 1000) */
  streamPollMs?: number;
  /** SSE keepalive comment interval, ms (default 15000) */
  streamHeartbeatMs?: number;
  /** the built portal (apps/portal/dist) served at /; absent or missing = a page saying how to build it */
  portalDir?: string;
}
