/**
 * A team's import area: the only place weights that no run of the team wrote can come from.
 *   s3://<bucket>/imports/<team id>/<upload id>/<name>.safetensors
 * The API issues uploads into it and accepts sources from it; the worker checks the same prefix
 * again when it reads a source, so a row written by anything else is still refused.
 */

/** the key prefix of a team's import area, with its trailing '/' */
export function importPrefix(teamId: string): string {
  return `imports/${teamId}/`;
}

/** each upload gets its own folder, so a file a run has pinned is never overwritten by the next upload of that name */
export function importKey(teamId: string, uploadId: string, name: string): string {
  return `${importPrefix(teamId)}${uploadId}/${name}`;
}

/** true when `key` is a .safetensors file inside the team's import area */
export function isInImportArea(key: string, teamId: string): boolean {
  const prefix = importPrefix(teamId);
  return key.startsWith(prefix) && key.length > prefix.length && key.endsWith('.safetensors') && !key.split('/').includes('..');
}
