/** The API's limits on imports; the area itself (prefix, keys) is libs/storage's import-area.ts. */

/** largest accepted import, bytes (a single presigned PUT can carry up to 5 GiB) */
export const MAX_IMPORT_BYTES = 5 * 1024 ** 3;

/** a file name a team may give an import: letters, digits, '.', '_', '-', ending in .safetensors */
export const IMPORT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,190}\\.safetensors$';

/** what a team may hold in its import area when no setting says (CIM_IMPORTS_PER_TEAM, CIM_IMPORT_MIB_PER_TEAM) */
export const DEFAULT_IMPORT_LIMITS = { count: 100, bytes: 100 * 1024 ** 3 };

/**
 * how long after its upload URL expired a reservation that never got its upload is swept, ms: a
 * PUT that S3 accepted just before the expiry may still be arriving for a while after it
 */
export const DEFAULT_IMPORT_SWEEP_GRACE_MS = 60 * 60 * 1000;

/** how often the API sweeps abandoned imports of every team, ms */
export const DEFAULT_IMPORT_SWEEP_EVERY_MS = 60 * 1000;
