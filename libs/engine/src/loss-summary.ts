/** How a run's loss went: the first and last values, and the means of its first and last 10%. */
export interface LossSummary {
  firstLoss: number | null;
  lastLoss: number | null;
  earlyLoss: number | null;
  lateLoss: number | null;
}

export function lossSummary(losses: readonly number[]): LossSummary {
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return {
    firstLoss: losses[0] ?? null,
    lastLoss: losses.at(-1) ?? null,
    earlyLoss: mean(losses.slice(0, tenth)),
    lateLoss: mean(losses.slice(-tenth)),
  };
}

/** what every engine run returns: its steps and losses in this invocation, and its speed */
export interface RunOutcome extends LossSummary {
  /** steps taken in this invocation */
  steps: number;
  /** the run's step count at the end (= totalSteps when it finished) */
  finalStep: number;
  totalSteps: number;
  stopped: boolean;
  seconds: number;
  imagesPerSec: number;
  lastCheckpoint?: string;
  /** sha256 of the final weights (pre-training: online, target and decoder, equal on every rank) */
  weightsDigest: string;
}
