-- issue 22: sweeps (hyper-parameter searches), their trials, and the run's link to its sweep.
-- A trial that ended at its rung (config.stopAtStep) is PAUSED: resumable from its checkpoint.
-- AlterEnum
ALTER TYPE "RunStatus" ADD VALUE 'PAUSED';

-- CreateEnum
CREATE TYPE "SweepStatus" AS ENUM ('RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateTable
CREATE TABLE "sweeps" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "team_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "status" "SweepStatus" NOT NULL DEFAULT 'RUNNING',
    "kind" "RunKind" NOT NULL,
    "base" JSONB NOT NULL,
    "spec" JSONB NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "sweeps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sweep_trials" (
    "sweep_id" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "params" JSONB NOT NULL,
    "run_id" UUID,
    "state" VARCHAR(16) NOT NULL DEFAULT 'pending',
    "rung" INTEGER NOT NULL DEFAULT -1,
    "judged_rung" INTEGER NOT NULL DEFAULT -1,
    "rung_metrics" JSONB NOT NULL DEFAULT '[]',
    "stop_reason" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sweep_trials_pkey" PRIMARY KEY ("sweep_id","index")
);

-- AlterTable
ALTER TABLE "runs" ADD COLUMN "sweep_id" UUID, ADD COLUMN "trial_index" INTEGER;

-- CreateIndex
CREATE INDEX "sweeps_team_id_created_at_id_idx" ON "sweeps"("team_id", "created_at" DESC, "id");
CREATE INDEX "sweeps_status_idx" ON "sweeps"("status");
CREATE UNIQUE INDEX "sweep_trials_run_id_key" ON "sweep_trials"("run_id");
CREATE UNIQUE INDEX "runs_sweep_id_trial_index_key" ON "runs"("sweep_id", "trial_index");

-- AddForeignKey
ALTER TABLE "sweeps" ADD CONSTRAINT "sweeps_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "sweep_trials" ADD CONSTRAINT "sweep_trials_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "runs" ADD CONSTRAINT "runs_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;
