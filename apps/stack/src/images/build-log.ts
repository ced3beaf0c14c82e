/**
 * The step of a failed BuildKit build, from its plain-progress log: `[stage n/m] INSTRUCTION` of the
 * last vertex that reported an ERROR (BuildKit numbers each step `#N` and repeats the number on its
 * output and error lines), else BuildKit's closing "failed to solve" line; undefined when neither.
 */
export function failedStep(log: string): string | undefined {
  const err = [...log.matchAll(/^#(\d+) ERROR/gm)].at(-1);
  if (err) {
    const header = new RegExp(`^#${err[1]} (\\[[^\\]]+\\] .*)$`, 'm').exec(log);
    if (header) return header[1].slice(0, 200);
  }
  return /failed to solve[^\n]*/.exec(log)?.[0].slice(0, 300);
}
