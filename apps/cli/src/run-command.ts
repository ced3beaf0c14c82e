/**
 * What the training commands (`pretrain`, `finetune`) share around their engine call: the run
 * directory (--out, its config.json), --resume reading the saved config back through the run
 * contract (libs/config: the same schemas the service parses with), refusing to start over a run,
 * a --config file, the progress bar (or a line every 10 s when stderr is not a terminal), and
 * Ctrl-C checkpointing at the next step boundary.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { parseRunConfig, parseRunConfigFile, type RunConfigs, type RunKind } from '@cim-forge/config';
import { LocalCheckpointStore } from '@cim-forge/engine';
import { UsageError } from './args.ts';
import { stopOnSignals } from './signals.ts';

export type TrainingKind = 'pretrain' | 'finetune';

const KIND_NAME: Record<TrainingKind, string> = { pretrain: 'pre-training', finetune: 'fine-tuning' };

/** A training command's run directory: checkpoints/, metrics.jsonl, config.json. */
export class RunDir<K extends TrainingKind> {
  readonly out: string;
  readonly savedConfig: string;

  constructor(
    readonly kind: K,
    private readonly outFlag: string | undefined,
  ) {
    this.out = resolve(outFlag ?? join('runs', `${kind}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`));
    this.savedConfig = join(this.out, 'config.json');
  }

  get checkpoints(): string {
    return join(this.out, 'checkpoints');
  }

  get metrics(): string {
    return join(this.out, 'metrics.jsonl');
  }

  /** --resume: the run's saved config, parsed with the run contract (or `parse`); a bad one is a UsageError */
  async readSavedConfig(parse: (saved: unknown) => RunConfigs[K] = (v) => parseRunConfig(this.kind, v)): Promise<RunConfigs[K]> {
    const kind = this.kind;
    if (!this.outFlag) throw new UsageError('--resume needs --out DIR (the run to continue)');
    if (!existsSync(this.savedConfig))
      throw new UsageError(`--resume: ${this.savedConfig} not found; is ${this.out} a ${KIND_NAME[kind]} run?`);
    try {
      return parse(JSON.parse(await readFile(this.savedConfig, 'utf8')));
    } catch (e) {
      throw new UsageError(`--resume: ${this.savedConfig} is not a valid ${KIND_NAME[kind]} config: ${(e as Error).message}`);
    }
  }

  /** a new run never starts over the checkpoints of another */
  async refuseExistingCheckpoints(): Promise<void> {
    if (existsSync(this.checkpoints) && (await new LocalCheckpointStore(this.checkpoints).list()).length > 0) {
      throw new UsageError(`${this.out} already holds checkpoints: pass --resume to continue it, or choose another --out`);
    }
  }

  async saveConfig(config: object): Promise<void> {
    await writeFile(this.savedConfig, JSON.stringify(config, null, 2));
  }
}

/** --config FILE.json: any of the kind's config fields, checked by the run contract (flags win over them) */
export async function readConfigFile<K extends RunKind>(kind: K, path: string | undefined): Promise<Partial<RunConfigs[K]>> {
  if (!path) return {};
  try {
    return parseRunConfigFile(kind, JSON.parse(await readFile(path, 'utf8')), 'config');
  } catch (e) {
    throw new UsageError(`--config ${path}: ${(e as Error).message}`);
  }
}

/**
 * Progress on stderr: a bar on a terminal; otherwise the first and last step, a line every
 * 10 s, each checkpoint, and what `note` says.
 */
export class TrainingProgress {
  readonly tty = process.stderr.isTTY;
  private readonly bar: SingleBar;
  private lastLine = 0;

  constructor(format: string) {
    this.bar = new SingleBar({ format, stream: process.stderr, hideCursor: true, etaBuffer: 20, noTTYOutput: false });
  }

  start(totalSteps: number, startStep: number, payload: Record<string, string>): void {
    if (this.tty) this.bar.start(totalSteps, startStep, payload);
  }

  step(step: number, totalSteps: number, payload: { loss: string; ips: string; lr: string } & Record<string, string>): void {
    if (this.tty) this.bar.update(step, payload);
    else if (step === 1 || step === totalSteps || Date.now() - this.lastLine > 10_000) {
      this.lastLine = Date.now();
      console.error(`step ${step}/${totalSteps} loss ${payload.loss} ${payload.ips} img/s lr ${payload.lr}`);
    }
  }

  /** a line only where there is no bar */
  note(line: string): void {
    if (!this.tty) console.error(line);
  }

  checkpoint(id: string, step: number): void {
    this.note(`checkpoint ${id} (step ${step})`);
  }

  stop(): void {
    if (this.tty) this.bar.stop();
  }
}

/**
 * Run `train` with Ctrl-C / SIGTERM asking it to checkpoint at the next step boundary (twice
 * aborts), and the progress bar stopped however it ends.
 */
export async function withStopAndProgress<R>(
  progress: TrainingProgress,
  train: (shouldStop: () => boolean) => Promise<R>,
  cleanup?: () => Promise<void>,
): Promise<R> {
  const stop = stopOnSignals();
  try {
    return await train(stop.requested);
  } finally {
    progress.stop();
    await cleanup?.();
    stop.dispose();
  }
}

export const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined ? '-' : x.toFixed(d));
