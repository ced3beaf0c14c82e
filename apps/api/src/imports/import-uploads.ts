/**
 * Import reservations (issue 24): a row in import_uploads per `POST /v1/imports`, taken before the
 * upload URL is signed, in one transaction with the team's caps after the team's row is locked
 * (`lockTeam`, as submissions do): two requests racing for a team's last slot or last bytes are
 * checked one after the other, on any number of API replicas.
 *
 * A reservation is `pending` while its URL may still be used. Once the URL has expired and a grace
 * has passed, `sweepImports` looks at the object: the whole file is there → `stored` (it stays
 * counted until the team deletes it); anything else (nothing, or an object of the wrong size) →
 * every object under the upload's own prefix is deleted and the row with it, which frees the slot.
 */
import { DeleteObjectsCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Db, DbClient } from '@cim-forge/db';
import { importPrefix } from '@cim-forge/storage';
import { conflict } from '../http-error.ts';
import { lockTeam, withTeamGate } from '../runs/team-quota.ts';

export interface ImportLimits {
  /** imports a team may hold, pending and stored */
  count: number;
  /** their bytes together */
  bytes: number;
}

const MiB = 2 ** 20;
const showBytes = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB` : `${n} bytes`);

/** what a team holds in its import area (every reservation not yet swept or deleted) */
export async function importUsage(db: DbClient, teamId: string): Promise<{ count: number; bytes: number }> {
  const [row] = await db.$queryRaw<{ n: bigint; bytes: bigint }[]>`
    SELECT count(*) AS n, coalesce(sum(bytes), 0)::bigint AS bytes FROM import_uploads WHERE team_id = ${teamId}::uuid`;
  return { count: Number(row!.n), bytes: Number(row!.bytes) };
}

/**
 * Reserves an import of `bytes` bytes at `key` for the team, or throws 409 naming the cap it would
 * pass. The caps are read and the row written in one transaction after `SELECT … FOR UPDATE` on the
 * team's row.
 */
export async function reserveImport(
  db: Db,
  r: { id: string; teamId: string; key: string; bytes: number; expiresAt: Date },
  limits: ImportLimits,
): Promise<void> {
  await withTeamGate(r.teamId, () =>
    db.$transaction(async (tx) => {
      await lockTeam(tx, r.teamId);
      const used = await importUsage(tx, r.teamId);
      if (used.count + 1 > limits.count) {
        throw conflict(
          `this team holds ${used.count} imports, its cap is ${limits.count} (CIM_IMPORTS_PER_TEAM): delete one with DELETE /v1/imports/:id; ` +
            'an upload that never arrived is freed an hour after its URL expired',
        );
      }
      if (used.bytes + r.bytes > limits.bytes) {
        throw conflict(
          `this team's imports hold ${showBytes(used.bytes)}; ${showBytes(r.bytes)} more would pass its cap of ${showBytes(limits.bytes)} ` +
            '(CIM_IMPORT_MIB_PER_TEAM): delete one with DELETE /v1/imports/:id',
        );
      }
      await tx.importUpload.create({ data: { id: r.id, teamId: r.teamId, key: r.key, bytes: BigInt(r.bytes), expiresAt: r.expiresAt } });
    }),
  );
}

/** deletes every object under one upload's own prefix (imports/<team>/<upload id>/); returns how many */
export async function deleteUploadObjects(s3: { client: S3Client; bucket: string }, teamId: string, uploadId: string): Promise<number> {
  const Prefix = `${importPrefix(teamId)}${uploadId}/`;
  let deleted = 0;
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix, ContinuationToken }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length > 0) {
      await s3.client.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: keys, Quiet: true } }));
      deleted += keys.length;
    }
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return deleted;
}

async function objectSize(s3: { client: S3Client; bucket: string }, key: string): Promise<number | null> {
  try {
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    return head.ContentLength ?? null;
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (e as Error).name === 'NotFound' || (e as Error).name === 'NoSuchKey') return null;
    throw e;
  }
}

export interface SweepResult {
  /** uploads found whole: now `stored` */
  stored: number;
  /** reservations removed (no upload, or a partial one), and the objects deleted with them */
  removed: number;
  objectsDeleted: number;
}

/**
 * Settles pending reservations whose URL expired more than `graceMs` ago (of one team, or of all),
 * at most `limit` of them. Safe to run on several replicas at once: each step is idempotent and the
 * row changes are conditional on the row still being pending.
 */
export async function sweepImports(
  db: Db,
  s3: { client: S3Client; bucket: string },
  opts: { graceMs: number; teamId?: string; limit?: number; now?: Date },
): Promise<SweepResult> {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.graceMs);
  const stale = await db.importUpload.findMany({
    where: { status: 'pending', expiresAt: { lt: cutoff }, ...(opts.teamId ? { teamId: opts.teamId } : {}) },
    orderBy: { expiresAt: 'asc' },
    take: opts.limit ?? 100,
  });
  const result: SweepResult = { stored: 0, removed: 0, objectsDeleted: 0 };
  for (const row of stale) {
    const size = await objectSize(s3, row.key);
    if (size !== null && BigInt(size) === row.bytes) {
      const u = await db.importUpload.updateMany({
        where: { id: row.id, status: 'pending' },
        data: { status: 'stored', storedAt: new Date() },
      });
      result.stored += u.count;
      continue;
    }
    result.objectsDeleted += await deleteUploadObjects(s3, row.teamId, row.id);
    const d = await db.importUpload.deleteMany({ where: { id: row.id, status: 'pending' } });
    result.removed += d.count;
  }
  return result;
}
