-- Webhooks (a team's URLs, their deliveries) and correlation-map figures.

CREATE TABLE "webhooks" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "team_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "events" TEXT[],
    "description" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhooks_team_id_created_at_idx" ON "webhooks"("team_id", "created_at");
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "webhook_id" UUID NOT NULL,
    "run_id" UUID,
    "event" VARCHAR(64) NOT NULL,
    "payload" TEXT NOT NULL,
    "status" VARCHAR(16) NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "status_code" INTEGER,
    "error" TEXT,
    "attempt_log" JSONB NOT NULL DEFAULT '[]',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "enqueued_at" TIMESTAMPTZ(3),
    "last_attempt_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhook_deliveries_webhook_id_created_at_idx" ON "webhook_deliveries"("webhook_id", "created_at" DESC);
-- the dispatcher's scan: deliveries not yet handed to BullMQ
CREATE INDEX "webhook_deliveries_unenqueued_idx" ON "webhook_deliveries"("created_at") WHERE "enqueued_at" IS NULL;
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- A run's status change makes one delivery per subscribed webhook of its team, in the same
-- transaction as the change (whoever makes it: the API, the controller, a worker), with the body
-- frozen now. STARTING and RESTARTING are not events; RESTARTING → RUNNING is run.running again.
CREATE FUNCTION cim_webhook_run_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev TEXT;
    body TEXT;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NEW;
    END IF;
    ev := CASE NEW.status::text
        WHEN 'QUEUED' THEN 'run.queued'
        WHEN 'RUNNING' THEN 'run.running'
        WHEN 'SUCCEEDED' THEN 'run.succeeded'
        WHEN 'FAILED' THEN 'run.failed'
        WHEN 'CANCELLED' THEN 'run.cancelled'
        ELSE NULL END;
    IF ev IS NULL OR NOT EXISTS (SELECT 1 FROM webhooks WHERE team_id = NEW.team_id AND ev = ANY(events)) THEN
        RETURN NEW;
    END IF;
    body := json_build_object(
        'id', gen_random_uuid(),
        'type', ev,
        'createdAt', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'data', json_build_object('run', json_build_object(
            'id', NEW.id,
            'teamId', NEW.team_id,
            'kind', NEW.kind,
            'name', NEW.name,
            'status', NEW.status,
            'previousStatus', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status::text ELSE NULL END,
            'worldSize', NEW.world_size,
            'error', NEW.error,
            'createdAt', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'startedAt', to_char(NEW.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'finishedAt', to_char(NEW.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        ))
    )::text;
    INSERT INTO webhook_deliveries (webhook_id, run_id, event, payload)
        SELECT id, NEW.id, ev, body FROM webhooks WHERE team_id = NEW.team_id AND ev = ANY(events);
    RETURN NEW;
END;
$$;

CREATE TRIGGER "runs_webhook_status" AFTER INSERT OR UPDATE OF "status" ON "runs"
    FOR EACH ROW EXECUTE FUNCTION cim_webhook_run_status();

CREATE TABLE "figures" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "run_id" UUID NOT NULL,
    "checkpoint_id" UUID NOT NULL,
    "step" INTEGER NOT NULL,
    "source" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "input_key" TEXT,
    "key" TEXT,
    "width" INTEGER,
    "height" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    CONSTRAINT "figures_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "figures_run_id_created_at_idx" ON "figures"("run_id", "created_at");
-- one held-out figure per checkpoint (a restarted gang that completes the same checkpoint again makes none)
CREATE UNIQUE INDEX "figures_heldout_checkpoint_key" ON "figures"("checkpoint_id") WHERE "source" = 'heldout';
ALTER TABLE "figures" ADD CONSTRAINT "figures_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
-- checkpoint_id has no foreign key: a figure outlives its checkpoint's retention (the maps of every step stay)
