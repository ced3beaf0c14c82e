/** The API's limits on imports; the area itself (prefix, keys) is libs/storage's import-area.ts. */

/** largest accepted import, bytes (a single presigned PUT can carry up to 5 GiB) */
export const MAX_IMPORT_BYTES = 5 * 1024 ** 3;

/** a file name a team may give an import: letters, digits, '.', '_', '-', ending in .safetensors */
export const IMPORT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,190}\\.safetensors$';
