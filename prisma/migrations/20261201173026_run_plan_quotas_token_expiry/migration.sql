-- issue 13/16: the derived plan and resource estimate on the run, the idempotency fingerprint,
-- per-team quotas and token expiry.
ALTER TABLE "runs" ADD COLUMN "idempotency_hash" CHAR(64);
ALTER TABLE "runs" ADD COLUMN "plan" JSONB;
ALTER TABLE "runs" ADD COLUMN "resources" JSONB;

ALTER TABLE "teams" ADD COLUMN "max_active_ranks" INTEGER;
ALTER TABLE "teams" ADD COLUMN "max_queued_runs" INTEGER;
ALTER TABLE "teams" ADD COLUMN "max_priority" INTEGER;

ALTER TABLE "api_tokens" ADD COLUMN "expires_at" TIMESTAMPTZ(3);
