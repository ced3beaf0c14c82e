/**
 * An image-folder dataset in a submitted config: its root is a plain relative path inside the
 * team's data area (no absolute path, no "..", no NUL: libs/config's datasetRootProblem), its
 * split, store and hold-out fraction known values. Runs after the field types are checked.
 */
import { datasetRootProblem } from '@cim-forge/config';
import { badRequest } from '../http-error.ts';

const FOLDER_SPLITS = ['all', 'train', 'val'];
const STORES = ['disk', 's3'];

export function checkImageFolder(value: Record<string, unknown>, path: string): void {
  const problem = datasetRootProblem(value.root);
  if (problem) throw badRequest(`${path}/root ${problem}`);
  if (value.split !== undefined && !FOLDER_SPLITS.includes(value.split as string)) throw badRequest(`${path}/split must be one of ${FOLDER_SPLITS.join(', ')}`);
  if (value.store !== undefined && !STORES.includes(value.store as string)) throw badRequest(`${path}/store must be one of ${STORES.join(', ')} (where your data area is)`);
  const f = value.valFraction;
  if (f !== undefined && !((f as number) > 0 && (f as number) < 1)) throw badRequest(`${path}/valFraction must be in (0, 1), got ${f}`);
  for (const k of ['splitSeed', 'limit', 'maxSide'] as const) {
    const v = value[k];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= (k === 'splitSeed' ? 0 : 1))) throw badRequest(`${path}/${k} must be an integer >= ${k === 'splitSeed' ? 0 : 1}, got ${v}`);
  }
}
