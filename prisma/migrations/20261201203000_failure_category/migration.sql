-- issue 16: a failure's category as a typed column on rank_attempts and runs (it travelled as a
-- string prefix of rank_attempts.exit_reason, "infra: …", parsed back by the controller).
-- CreateEnum
CREATE TYPE "FailureCategory" AS ENUM ('user', 'rendezvous', 'infra', 'stopped');

-- AlterTable
ALTER TABLE "rank_attempts" ADD COLUMN "failure_category" "FailureCategory";
ALTER TABLE "runs" ADD COLUMN "failure_category" "FailureCategory";

-- Backfill: a FAILED attempt's category was the prefix of its exit reason (anything else was
-- treated as infra); the prefix ("ok: ", "cancelled: ", …) leaves the reason.
UPDATE "rank_attempts"
SET "failure_category" = CASE
  WHEN "exit_reason" ~ '^(user|rendezvous|infra|stopped): ' THEN substring("exit_reason" FROM '^(\w+): ')::"FailureCategory"
  ELSE 'infra'::"FailureCategory"
END
WHERE "status" = 'FAILED';

UPDATE "rank_attempts"
SET "exit_reason" = substring("exit_reason" FROM '^(?:ok|user|rendezvous|infra|stopped|cancelled): (.*)$')
WHERE "exit_reason" ~ '^(ok|user|rendezvous|infra|stopped|cancelled): ';

-- a FAILED run: its error says which (the controller's and the API's wording)
UPDATE "runs"
SET "failure_category" = CASE
  WHEN "error" ~ '^rank [0-9]+: ' THEN 'user'::"FailureCategory"
  WHEN "error" LIKE 'gave up after %' OR "error" LIKE 'could not enqueue%' THEN 'infra'::"FailureCategory"
END
WHERE "status" = 'FAILED';
