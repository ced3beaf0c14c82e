/** The made-up learning curve of fake-rank-runner.ts's sweep trials: best at baseLr 0.01, rising with the step. */
export function fakeTrialScore(baseLr: number, step: number): number {
  return Number(((1 - Math.abs(Math.log10(baseLr) + 2) / 4) * (step / (step + 10))).toFixed(6));
}
