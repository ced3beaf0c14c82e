/** What the API is built from; the caller (main.ts or a test) owns and closes every one of them. */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Registry } from 'prom-client';
import type { LoggerOptions } from 'pino';
import type { Db } from '@cim-forge/db';
import type { RunJobData } from '@cim-forge/queue';

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
  /** where /metrics reads from; default a fresh registry with the default process metrics */
  registry?: Registry;
  logger?: boolean | LoggerOptions;
  /** lifetime of presigned download URLs, s (default 900) */
  presignSeconds?: number;
  /** how often live streams read PostgreSQL, ms (default 1000) */
  streamPollMs?: number;
  /** SSE keepalive comment interval, ms (default 15000) */
  streamHeartbeatMs?: number;
  /** the built portal (apps/portal/dist) served at /; absent or missing = a page saying how to build it */
  portalDir?: string;
}
