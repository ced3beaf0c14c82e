/**
 * The check every collective makes before it starts an operation: a closed collective refuses,
 * and so does one whose earlier operation failed (the rank is out of step with its gang).
 */
export function checkCanStart(who: string, kind: string, closing: unknown, broken: Error | undefined): void {
  if (closing) throw new Error(`${who} is closed: cannot start ${kind}`);
  if (broken)
    throw new Error(
      `${who} cannot start ${kind}: an earlier operation failed, so this rank is out of step with its gang (${broken.message})`,
    );
}
