/**
 * The miniature table's job runner. Every job (the pre-training, each fine-tune, each probe) writes
 * OUT/<job>/result.json when it finishes; a later invocation skips those, so an interrupted
 * experiment resumes (fine-tunes and the pre-training also resume mid-run from their checkpoints).
 * `--parallel 2` runs two jobs at once as child processes (one core each); the scratch jobs need no
 * pre-training, so they run beside it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@cim-forge/cim';
import { finetune, linearProbe, pretrain } from '@cim-forge/engine';
import { jobRun, runWeights, writeJson } from '../shared/io.ts';
import { JobStore } from '../shared/job-store.ts';
import { budgets, finetuneConfig, pretrainConfig, probeConfig, type Job, type JobResult } from './plan.ts';
import { childProcessEnv } from '@cim-forge/settings';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

/** Logs the first step, the last, and one step every 30 s. */
function throttled(
  log: (m: string) => void,
  line: (s: { step: number; totalSteps: number; loss: number; imagesPerSec: number }) => string,
) {
  let last = 0;
  return (s: { step: number; totalSteps: number; loss: number; imagesPerSec: number }) => {
    if (s.step === 1 || s.step === s.totalSteps || Date.now() - last > 30_000) {
      last = Date.now();
      log(line(s));
    }
  };
}

/** Runs one job in this process; writes its result.json last (its existence = done). */
export async function runJob(job: Job, log: (m: string) => void): Promise<JobResult> {
  const b = budgets[job.budget];
  const store = new JobStore(job.out);
  const dir = store.dir(job.id);
  await initBackend('wasm');
  const startedAt = Date.now();
  let r: Omit<JobResult, 'startedAt' | 'finishedAt' | 'id' | 'kind' | 'init' | 'seed'>;
  if (job.kind === 'pretrain') {
    const config = pretrainConfig(b);
    const res = await pretrain({
      ...(await jobRun(dir, config)),
      hooks: {
        log,
        onPlan: ({ plan, startStep }) =>
          log(`pretrain: ${plan.totalSteps} steps of ${config.batchSize}${startStep ? `, resuming at ${startStep}` : ''}`),
        onStep: throttled(
          log,
          (s) => `pretrain: step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(3)} ${s.imagesPerSec.toFixed(1)} img/s`,
        ),
      },
    });
    if (res.stopped) throw new Error('pre-training stopped early');
    r = {
      seconds: res.seconds,
      steps: res.steps,
      secondsPerStep: res.steps ? res.seconds / res.steps : undefined,
      extra: { earlyLoss: res.earlyLoss, lateLoss: res.lateLoss },
    };
  } else {
    const initFrom = job.init === 'cim' ? await runWeights(store.dir('pretrain')) : null;
    if (job.kind === 'probe') {
      const res = await linearProbe({ config: probeConfig(b, job.seed, initFrom), log });
      r = {
        top1: res.top1,
        seconds: res.seconds,
        trainImages: res.trainImages,
        evalImages: res.evalImages,
        extra: { trainTop1: res.trainTop1, featureSeconds: res.featureSeconds },
      };
    } else {
      const config = finetuneConfig(b, job.kind, job.seed, initFrom);
      const res = await finetune({
        ...(await jobRun(dir, config)),
        hooks: {
          log,
          onStep: throttled(log, (s) => `step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(3)} ${s.imagesPerSec.toFixed(1)} img/s`),
          onEval: (e) => log(`epoch ${e.epoch.toFixed(1)} top-1 ${(100 * e.top1).toFixed(1)}%`),
        },
      });
      if (res.finalStep < res.totalSteps) throw new Error(`fine-tuning stopped at ${res.finalStep}/${res.totalSteps}`);
      r = {
        top1: res.top1,
        seconds: res.seconds,
        steps: res.steps,
        secondsPerStep: res.steps ? res.seconds / res.steps : undefined,
        trainImages: res.trainImages,
        evalImages: res.evalImages,
        extra: { evals: res.evals, lateLoss: res.lateLoss },
      };
    }
  }
  const result: JobResult = { id: job.id, kind: job.kind, init: job.init, seed: job.seed, ...r, startedAt, finishedAt: Date.now() };
  await store.saveResult(job.id, result);
  return result;
}

/** One job in a child process (`main.ts --job FILE`), its stderr lines prefixed with the job id. */
async function runChild(job: Job, log: (m: string) => void): Promise<void> {
  const jobFile = join(job.out, job.id, 'job.json');
  await writeJson(jobFile, job);
  await new Promise<void>((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--job', jobFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: childProcessEnv({ CIM_BACKEND: 'wasm' }),
    });
    let buf = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) log(l);
    });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok() : fail(new Error(`job ${job.id} exited with ${code}`))));
  });
}

/** Runs the jobs not yet done, `parallel` at a time; CIM jobs wait for the pre-training. */
export async function runAll(
  jobs: Job[],
  parallel: number,
  log: (m: string) => void,
): Promise<{ results: Map<string, JobResult>; reused: string[] }> {
  const results = new Map<string, JobResult>();
  const reused: string[] = [];
  for (const j of jobs) {
    const r = await new JobStore(j.out).result<JobResult>(j.id);
    if (r) {
      results.set(j.id, r);
      reused.push(j.id);
    }
  }
  if (reused.length) log(`reusing ${reused.length} finished job(s): ${reused.join(', ')}`);
  const todo = jobs.filter((j) => !results.has(j.id));
  const running = new Set<string>();
  let failure: Error | undefined;
  await new Promise<void>((done) => {
    const pump = () => {
      if (failure && running.size === 0) return done();
      if (!failure && todo.length === 0 && running.size === 0) return done();
      while (!failure && running.size < parallel) {
        const i = todo.findIndex((j) => j.init !== 'cim' || results.has('pretrain'));
        if (i < 0) break;
        const job = todo.splice(i, 1)[0];
        running.add(job.id);
        const jlog = (m: string) => log(`[${job.id}] ${m}`);
        jlog('start');
        const p = parallel > 1 ? runChild(job, jlog).then(() => new JobStore(job.out).result<JobResult>(job.id)) : runJob(job, jlog);
        p.then((r) => {
          if (!r) throw new Error(`job ${job.id} wrote no result`);
          results.set(job.id, r);
          jlog(`done in ${r.seconds.toFixed(1)} s${r.top1 !== undefined ? `: top-1 ${(100 * r.top1).toFixed(2)}%` : ''}`);
        })
          .catch((e: Error) => {
            failure ??= e;
          })
          .finally(() => {
            running.delete(job.id);
            pump();
          });
      }
      if (running.size === 0 && !failure && todo.length > 0) {
        failure = new Error(`jobs cannot start: ${todo.map((j) => j.id).join(', ')}`);
        done();
      }
    };
    pump();
  });
  if (failure) throw failure;
  return { results, reused };
}
