-- issue 24: a reservation row per import (POST /v1/imports), so per-team caps on the number and
-- bytes of imports are checked and taken under the team's row lock, and imports whose upload never
-- arrived are swept (row and any partial object removed).
-- CreateTable
CREATE TABLE "import_uploads" (
    "id" UUID NOT NULL,
    "team_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "stored_at" TIMESTAMPTZ(3),

    CONSTRAINT "import_uploads_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "import_uploads_status_check" CHECK ("status" IN ('pending', 'stored')),
    CONSTRAINT "import_uploads_bytes_check" CHECK ("bytes" > 0)
);

-- CreateIndex
CREATE UNIQUE INDEX "import_uploads_key_key" ON "import_uploads"("key");
CREATE INDEX "import_uploads_team_id_status_idx" ON "import_uploads"("team_id", "status");
CREATE INDEX "import_uploads_status_expires_at_idx" ON "import_uploads"("status", "expires_at");

-- AddForeignKey
ALTER TABLE "import_uploads" ADD CONSTRAINT "import_uploads_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;
