/**
 * `cim sweep`: a hyper-parameter sweep on one machine, no servers — the body `POST /v1/sweeps`
 * takes (its base run names a local checkpoint with `from` instead of a service run), planned and
 * decided by libs/sweep, each trial an ordinary run directory under OUT/trials/. Trials run in
 * this process one after another, or in N child processes (--parallel N). The sweep's state is
 * written atomically after every decision, so an interrupted sweep goes on with --resume (finished
 * trials are not rerun; running and promoted ones resume from their own checkpoints).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Type } from 'typebox';
import {
  finetunePresets,
  parseRunConfig,
  parseRunConfigFile,
  resolveFinetuneConfig,
  resolvePretrainConfig,
  schemaErrorMessage,
  schemaErrors,
  SweepSearchFields,
  type FinetuneConfig,
  type PretrainConfig,
} from '@cim-forge/config';
import { finetune, JsonlMetricsSink, LocalCheckpointStore, pretrain, type EngineEvent } from '@cim-forge/engine';
import { childProcessEnv } from '@cim-forge/settings';
import {
  applyParams,
  best,
  decide,
  metricAt,
  resolveSweep,
  stopAtStepFor,
  sweepFinished,
  SweepSpecError,
  type ResolvedSweep,
  type SweepBaseConfig,
  type SweepKind,
  type TrialParams,
  type TrialReport,
} from '@cim-forge/sweep';
import { cliSettings, initCliBackend, num, threadsPerRank, UsageError } from '../args.ts';
import { resolveFrom } from '../labelled-data.ts';
import { stopOnSignals } from '../signals.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));

const help = `Usage: npm run cim -- sweep --spec SWEEP.json --out runs/sweeps/NAME [--parallel N] [--resume] [--dry-run]

A hyper-parameter sweep on this machine: every trial is a run of the base config with some of its
fields set from a search space; grid tries every combination, random draws maxTrials points from a
seed, asha draws like random and stops the trials that are not in the top 1/η at each rung (a
budget in steps), resuming the promoted ones from their own checkpoints. The same spec and seed
give the same trials and the same decisions, in sequence or in parallel (docs/sweeps.md).

SWEEP.json is the body POST /v1/sweeps takes, with the base run's source a local path:
  {"name": "lr-asha",
   "base": {"kind": "finetune", "preset": "smoke", "from": "runs/smoke-pt", "config": {"epochs": 1}},
   "space": {"baseLr": {"loguniform": [0.0001, 0.1]}},
   "algorithm": {"name": "asha", "eta": 3, "seed": 0},
   "metric": {"name": "val_top1", "goal": "max"},
   "maxTrials": 9}
  base.kind     pretrain | finetune;  base.preset a named config (npm run cim -- presets);
  base.config   any config fields over the preset;  base.from (finetune) what cim finetune --from takes:
                a pre-training run directory (its latest checkpoint), a checkpoint directory, a
                model.safetensors, or "scratch"
  space         config field → {"choice": [..]} | {"uniform": [lo, hi]} | {"loguniform": [lo, hi]} |
                {"int": [lo, hi]}; a nested field as parent.child (randAugment.m); for a grid, a
                continuous domain takes "grid": N points
  algorithm     {"name": "grid"} | {"name": "random", "seed": S} |
                {"name": "asha", "seed": S, "eta": 3, "budgetUnit": "steps"|"epochs", "gracePeriod": G, "maxBudget": M}
  metric        finetune: val_top1, val_loss, eval_top1, eval_loss, loss; pretrain: loss; goal max | min

Options
  --spec FILE       the sweep (with --resume: optional, and must equal the one the sweep started with)
  --out DIR         OUT/sweep-state.json, OUT/trials/t000/ (config.json, checkpoints/, metrics.jsonl, trial.log)
  --from X          the finetune base's source (wins over base.from)
  --parallel N      trials at once: N child processes (default 1: in this process, one after another)
  --resume          go on with the sweep in --out: finished trials stay, the others resume
  --dry-run         print the plan (rungs, trials, notes) and write nothing
  --backend B       auto | tensorflow | wasm | cpu | webgpu

Example: npm run cim -- pretrain --preset smoke --out runs/smoke-pt
         npm run cim -- sweep --spec docs/examples/sweep-grid.json --from runs/smoke-pt --out runs/sweeps/grid
         (Ctrl-C checkpoints the running trials; the same command with --resume goes on)`;

const BaseSpec = Type.Object(
  {
    kind: Type.Union([Type.Literal('pretrain'), Type.Literal('finetune')]),
    preset: Type.Optional(Type.String({ maxLength: 100 })),
    config: Type.Optional(Type.Object({}, { additionalProperties: true })),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    source: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
const SweepSpecSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 100 })),
    base: BaseSpec,
    ...SweepSearchFields,
    priority: Type.Optional(Type.Unknown()),
    validateOnly: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export interface LocalSweepSpec {
  name?: string;
  base: { kind: SweepKind; preset?: string; config?: Record<string, unknown>; from?: string; source?: unknown };
  space: ResolvedSweep['space'];
  algorithm: Parameters<typeof resolveSweep>[2]['algorithm'];
  metric: ResolvedSweep['metric'];
  maxTrials: number;
  maxConcurrent?: number;
  /** as REST's validateOnly: the plan, nothing run (= --dry-run) */
  validateOnly?: boolean;
}

interface TrialRecord extends TrialReport {
  params: TrialParams;
  dir: string;
  /** the run's step when its last invocation ended */
  finalStep: number;
  stopReason?: string;
  error?: string;
}

interface SweepState {
  version: 1;
  spec: LocalSweepSpec;
  kind: SweepKind;
  /** the base config the trials apply their params to (the `from` checkpoint resolved once) */
  baseConfig: SweepBaseConfig;
  rungs: number[];
  totalSteps: number | null;
  trials: TrialRecord[];
  best: ReturnType<typeof best>;
  status: 'RUNNING' | 'SUCCEEDED';
}

/** the spec file's shape (a UsageError naming the field otherwise) */
export function parseSweepSpec(value: unknown): LocalSweepSpec {
  // the one refusal the schema would word less clearly than libs/sweep does
  const space = (value as { space?: unknown } | null)?.space;
  if (typeof space === 'object' && space !== null && Object.keys(space).length === 0)
    throw new UsageError(new SweepSpecError('space', 'the search space is empty: give at least one config field').message);
  const errors = schemaErrors(SweepSpecSchema, value);
  if (errors.length) throw new UsageError(schemaErrorMessage(errors, 'spec'));
  const spec = value as LocalSweepSpec;
  if (spec.base.source !== undefined)
    throw new UsageError(
      'spec/base/source names a service run: a local sweep takes base.from (a run directory, a checkpoint or a model.safetensors)',
    );
  return spec;
}

/** the resolved base run config: preset, then config; a finetune's from resolved to a file */
export async function baseConfigOf(spec: LocalSweepSpec, fromFlag?: string): Promise<SweepBaseConfig> {
  const { kind, preset, config = {} } = spec.base;
  try {
    const fields = parseRunConfigFile(kind, config, 'spec/base/config');
    if (kind === 'pretrain') {
      if (spec.base.from !== undefined || fromFlag !== undefined) throw new Error('spec/base/from: a pretrain base starts from scratch');
      return resolvePretrainConfig(preset, fields as Partial<PretrainConfig>);
    }
    if (preset !== undefined && !Object.hasOwn(finetunePresets, preset))
      throw new Error(`spec/base/preset: unknown finetune preset "${preset}" (known: ${Object.keys(finetunePresets).join(', ')})`);
    const from = fromFlag ?? spec.base.from;
    if (from === undefined)
      throw new Error(
        'spec/base/from (or --from) is required for a finetune base: a pre-training run directory, a checkpoint, a model.safetensors, or "scratch"',
      );
    const initFrom = await resolveFrom(from);
    return resolveFinetuneConfig({ ...(preset ? finetunePresets[preset].config : {}), ...(fields as Partial<FinetuneConfig>), initFrom });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

/** the plan (SweepSpecError → a UsageError with its message: "space/baseLr/loguniform: low must be > 0, got 0") */
export function planSweep(spec: LocalSweepSpec, baseConfig: SweepBaseConfig, parallel: number): ResolvedSweep {
  try {
    const { space, algorithm, metric, maxTrials } = spec;
    return { ...resolveSweep(spec.base.kind, baseConfig, { space, algorithm, metric, maxTrials }), maxConcurrent: parallel };
  } catch (e) {
    if (e instanceof SweepSpecError) throw new UsageError(e.message);
    throw e;
  }
}

let tmpSeq = 0;
async function writeAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${++tmpSeq}`;
  await writeFile(tmp, JSON.stringify(value, null, 2));
  await rename(tmp, path);
}

async function readRows(path: string): Promise<Record<string, unknown>[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** One trial invocation in this process: the engine on DIR/config.json, resuming from DIR/checkpoints. */
export async function runTrialHere(
  kind: SweepKind,
  dir: string,
  shouldStop?: () => boolean,
): Promise<{ finalStep: number; totalSteps: number }> {
  const config = parseRunConfig(kind, JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
  const store = new LocalCheckpointStore(join(dir, 'checkpoints'));
  const metrics = new JsonlMetricsSink(join(dir, 'metrics.jsonl'));
  const lines: string[] = [];
  const log = (m: string) => lines.push(m);
  const onEvent = (e: EngineEvent) =>
    lines.push(
      e.type === 'checkpoint.resumed'
        ? `resumed from checkpoint ${e.checkpoint} at step ${e.step}`
        : `checkpoint ${e.checkpoint} skipped: ${e.reason}`,
    );
  try {
    if (kind === 'pretrain') {
      const r = await pretrain({ config: config as PretrainConfig, store, metrics, resume: true, onEvent, hooks: { log, shouldStop } });
      return { finalStep: r.finalStep, totalSteps: r.totalSteps };
    }
    const r = await finetune({
      config: config as FinetuneConfig,
      store,
      metrics,
      resume: true,
      scoreTest: false,
      onEvent,
      hooks: { log, shouldStop },
    });
    return { finalStep: r.finalStep, totalSteps: r.totalSteps };
  } finally {
    if (lines.length) await writeFile(join(dir, 'trial.log'), `${lines.join('\n')}\n`, { flag: 'a' });
  }
}

/** One trial invocation in a child process (`cim sweep --run-trial DIR --kind K`). */
function runTrialChild(
  kind: SweepKind,
  dir: string,
  backend: string | undefined,
  threads: number,
): Promise<{ finalStep: number; totalSteps: number }> {
  const args = ['--import', 'tsx', main, 'sweep', '--run-trial', dir, '--kind', kind, ...(backend ? ['--backend', backend] : [])];
  const env = childProcessEnv({ CIM_THREADS: String(threads) });
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const last = stdout.trim().split('\n').at(-1);
      if (code === 0 && last) resolvePromise(JSON.parse(last) as { finalStep: number; totalSteps: number });
      else reject(new Error(`trial process exited ${signal ?? code}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
  });
}

function fmtParams(p: TrialParams): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : JSON.stringify(v)}`)
    .join(' ');
}

/** the table printed at the end */
export function trialTable(state: SweepState): string {
  const metric = state.spec.metric.name;
  const rows = state.trials.map((t) => {
    const m = [...t.rungMetrics].reverse().find((v) => typeof v === 'number');
    return [
      String(t.index),
      fmtParams(t.params),
      t.state,
      String(t.finalStep),
      m === undefined || m === null ? '-' : m.toFixed(4),
      t.stopReason ?? t.error ?? '',
    ];
  });
  const head = ['trial', 'params', 'state', 'step', metric, 'reason'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      spec: { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      parallel: { type: 'string' },
      resume: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      backend: { type: 'string' },
      'run-trial': { type: 'string' },
      kind: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  if (values['run-trial']) {
    // a child of --parallel: one trial invocation, its outcome as the last stdout line
    const kind = values.kind === 'pretrain' ? 'pretrain' : 'finetune';
    await initCliBackend(values.backend);
    const stop = stopOnSignals();
    try {
      console.log(JSON.stringify(await runTrialHere(kind, resolve(values['run-trial']), stop.requested)));
    } finally {
      stop.dispose();
    }
    return 0;
  }
  const parallel = num('parallel', values.parallel, { int: true, min: 1 }) ?? 1;
  if (!values.out && !values['dry-run']) throw new UsageError('--out DIR is required (the sweep directory)');
  const out = resolve(values.out ?? '.');
  const statePath = join(out, 'sweep-state.json');

  let spec: LocalSweepSpec | undefined;
  if (values.spec) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(values.spec, 'utf8'));
    } catch (e) {
      throw new UsageError(`--spec ${values.spec}: ${(e as Error).message}`);
    }
    spec = parseSweepSpec(raw);
  }

  let state: SweepState;
  let resolved: ResolvedSweep;
  if (values.resume) {
    if (!values.out) throw new UsageError('--resume needs --out DIR (the sweep to continue)');
    if (!existsSync(statePath)) throw new UsageError(`--resume: ${statePath} not found; is ${out} a sweep?`);
    state = JSON.parse(await readFile(statePath, 'utf8')) as SweepState;
    if (spec && JSON.stringify(spec) !== JSON.stringify(state.spec))
      throw new UsageError(`--spec ${values.spec} differs from the spec ${out} started with (leave --spec out to go on with it)`);
    resolved = planSweep(state.spec, state.baseConfig, parallel);
    if (JSON.stringify(resolved.trials.map((t) => t.params)) !== JSON.stringify(state.trials.map((t) => t.params)))
      throw new UsageError(`${statePath}: its trials differ from the spec's plan`);
  } else {
    if (!spec) throw new UsageError('--spec FILE is required (see --help for its shape)');
    if (!values['dry-run'] && existsSync(statePath))
      throw new UsageError(`${out} already holds a sweep: pass --resume to continue it, or choose another --out`);
    const baseConfig = await baseConfigOf(spec, values.from);
    resolved = planSweep(spec, baseConfig, parallel);
    state = {
      version: 1,
      spec,
      kind: spec.base.kind,
      baseConfig: resolved.baseConfig,
      rungs: resolved.rungs,
      totalSteps: resolved.totalSteps,
      trials: resolved.trials.map((t) => ({
        index: t.index,
        params: t.params,
        state: 'pending',
        rung: 0,
        rungMetrics: [],
        dir: `trials/t${String(t.index).padStart(3, '0')}`,
        finalStep: 0,
      })),
      best: null,
      status: 'RUNNING',
    };
  }
  if (values['dry-run'] || spec?.validateOnly) {
    console.log(
      JSON.stringify(
        {
          kind: resolved.kind,
          algorithm: resolved.algorithm,
          rungs: resolved.rungs,
          totalSteps: resolved.totalSteps,
          trials: resolved.trials,
          notes: resolved.notes,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  for (const n of resolved.notes) console.error(`note: ${n}`);
  console.error(
    `sweep ${state.spec.name ?? out}: ${resolved.algorithm.name}, ${resolved.trials.length} trials, rungs at ` +
      `steps ${resolved.rungs.join(', ') || 'the end'} of ${resolved.totalSteps ?? '?'}, ${parallel} at a time`,
  );

  const backendFlag = values.backend;
  if (parallel === 1) await initCliBackend(backendFlag);
  await mkdir(out, { recursive: true });
  await writeAtomic(statePath, state);
  const kind = state.kind;
  const metricName = state.spec.metric.name;
  const threads = cliSettings().threads ?? threadsPerRank(parallel);
  const stop = stopOnSignals();
  const running = new Map<number, Promise<void>>();
  // one write at a time, in call order: trials that end together must not race for the file
  let saving: Promise<void> = Promise.resolve();
  const save = () => {
    const snapshot = JSON.parse(JSON.stringify({ ...state, best: best(resolved, state.trials) })) as unknown;
    saving = saving.catch(() => undefined).then(() => writeAtomic(statePath, snapshot));
    return saving;
  };

  const launch = (t: TrialRecord) => {
    const dir = join(out, t.dir);
    const stopAtStep = stopAtStepFor(resolved, t.rung);
    const config = { ...applyParams(state.baseConfig, t.params), stopAtStep };
    const p = (async () => {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
      try {
        const r = parallel === 1 ? await runTrialHere(kind, dir, stop.requested) : await runTrialChild(kind, dir, backendFlag, threads);
        t.finalStep = r.finalStep;
        const target = Math.min(stopAtStep ?? Infinity, r.totalSteps);
        if (r.finalStep < target) return; // interrupted: stays running, resumed by --resume
        const m = metricAt(await readRows(join(dir, 'metrics.jsonl')), metricName, r.finalStep);
        t.rungMetrics[t.rung] = m;
        t.state = 'paused';
        console.error(`trial ${t.index} at step ${r.finalStep}: ${metricName} ${m ?? 'none'}`);
      } catch (e) {
        t.state = 'failed';
        t.error = (e as Error).message.split('\n')[0];
        console.error(`trial ${t.index} failed: ${t.error}`);
      } finally {
        running.delete(t.index);
        await save();
      }
    })();
    running.set(t.index, p);
  };

  try {
    // trials an interrupted invocation left running go on from their own checkpoints
    for (const t of state.trials) if (t.state === 'running' && !stop.requested()) launch(t);
    for (;;) {
      if (!stop.requested()) {
        const ds = decide(resolved, state.trials);
        for (const d of ds) {
          const t = state.trials[d.index];
          if (d.type === 'start') {
            t.state = 'running';
            t.rung = d.rung;
            console.error(
              `trial ${t.index} ${d.resume ? 'resumes from its checkpoint' : 'starts'} (${fmtParams(t.params)}) ` +
                `to ${d.stopAtStep === null ? 'the end' : `step ${d.stopAtStep}`}`,
            );
            launch(t);
          } else if (d.type === 'promote') {
            t.state = 'promoted';
            t.rung = d.rung;
          } else if (d.type === 'stop') {
            t.state = 'stopped';
            t.stopReason = d.reason;
            console.error(`trial ${t.index} stopped: ${d.reason}`);
          } else t.state = 'completed';
        }
        await save();
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
  } finally {
    await Promise.allSettled(running.values());
    stop.dispose();
  }
  const finished = sweepFinished(resolved, state.trials);
  state.best = best(resolved, state.trials);
  state.status = finished ? 'SUCCEEDED' : 'RUNNING';
  await saving.catch(() => undefined);
  await writeAtomic(statePath, state);
  console.error(`\n${trialTable(state)}\n`);
  if (state.best) console.error(`best: trial ${state.best.index} (${fmtParams(state.best.params)}): ${metricName} ${state.best.metric}`);
  if (!finished) console.error(`interrupted; continue with: npm run cim -- sweep --out ${out} --resume`);
  console.log(JSON.stringify({ out, status: state.status, best: state.best, trials: state.trials }));
  return finished ? 0 : 130;
}
