-- CreateEnum
CREATE TYPE "RunKind" AS ENUM ('pretrain', 'finetune', 'eval');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('QUEUED', 'STARTING', 'RUNNING', 'RESTARTING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "RankAttemptStatus" AS ENUM ('PENDING', 'RENDEZVOUS', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "CheckpointStatus" AS ENUM ('PENDING', 'COMPLETE');

-- CreateTable
CREATE TABLE "teams" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "teams_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "team_id" UUID,
    "name" TEXT,
    "token_hash" CHAR(64) NOT NULL,
    "prefix" VARCHAR(16) NOT NULL,
    "admin" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "runs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "team_id" UUID NOT NULL,
    "kind" "RunKind" NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'QUEUED',
    "name" TEXT,
    "preset" TEXT,
    "config" JSONB NOT NULL,
    "world_size" INTEGER NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "source_checkpoint_id" UUID,
    "infra_restarts" INTEGER NOT NULL DEFAULT 0,
    "user_restarts" INTEGER NOT NULL DEFAULT 0,
    "max_restarts" INTEGER NOT NULL DEFAULT 3,
    "error" TEXT,
    "idempotency_key" VARCHAR(255),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "queued_at" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rank_attempts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "run_id" UUID NOT NULL,
    "rank" INTEGER NOT NULL,
    "attempt" INTEGER NOT NULL,
    "worker_id" TEXT,
    "status" "RankAttemptStatus" NOT NULL DEFAULT 'PENDING',
    "heartbeat_at" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),
    "exit_reason" TEXT,

    CONSTRAINT "rank_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "checkpoints" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "run_id" UUID,
    "uri" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "epoch" INTEGER NOT NULL DEFAULT 0,
    "manifest_digest" CHAR(64),
    "status" "CheckpointStatus" NOT NULL DEFAULT 'PENDING',
    "metrics" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "checkpoints_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "run_events" (
    "id" BIGSERIAL NOT NULL,
    "run_id" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "type" VARCHAR(64) NOT NULL,
    "message" TEXT NOT NULL,
    "data" JSONB,

    CONSTRAINT "run_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "metrics" (
    "id" BIGSERIAL NOT NULL,
    "run_id" UUID NOT NULL,
    "name" VARCHAR(128) NOT NULL,
    "rank" INTEGER,
    "step" INTEGER NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "metrics_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "teams_name_key" ON "teams"("name");

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "api_tokens_team_id_idx" ON "api_tokens"("team_id");

-- CreateIndex
CREATE INDEX "runs_team_id_created_at_id_idx" ON "runs"("team_id", "created_at" DESC, "id");

-- CreateIndex
CREATE INDEX "runs_status_priority_queued_at_idx" ON "runs"("status", "priority" DESC, "queued_at");

-- CreateIndex
CREATE INDEX "runs_source_checkpoint_id_idx" ON "runs"("source_checkpoint_id");

-- CreateIndex
CREATE UNIQUE INDEX "runs_team_id_idempotency_key_key" ON "runs"("team_id", "idempotency_key");

-- CreateIndex
CREATE UNIQUE INDEX "rank_attempts_run_id_attempt_rank_key" ON "rank_attempts"("run_id", "attempt", "rank");

-- CreateIndex
CREATE UNIQUE INDEX "checkpoints_uri_key" ON "checkpoints"("uri");

-- CreateIndex
CREATE INDEX "checkpoints_run_id_status_step_idx" ON "checkpoints"("run_id", "status", "step" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "checkpoints_run_id_step_key" ON "checkpoints"("run_id", "step");

-- CreateIndex
CREATE INDEX "run_events_run_id_at_id_idx" ON "run_events"("run_id", "at", "id");

-- CreateIndex
-- Hand-edited: NULLS NOT DISTINCT (PostgreSQL 15) so run-level points (rank NULL) are unique per
-- step too; Prisma's schema language cannot say this. One series (run, name, rank) is one
-- contiguous range of this index, ordered by step.
CREATE UNIQUE INDEX "metrics_series_key" ON "metrics"("run_id", "name", "rank", "step") NULLS NOT DISTINCT;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_source_checkpoint_id_fkey" FOREIGN KEY ("source_checkpoint_id") REFERENCES "checkpoints"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rank_attempts" ADD CONSTRAINT "rank_attempts_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "checkpoints" ADD CONSTRAINT "checkpoints_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_events" ADD CONSTRAINT "run_events_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "metrics" ADD CONSTRAINT "metrics_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
