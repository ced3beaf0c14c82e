/**
 * Runs the protocol's jobs one at a time in this process, on the native tensorflow backend (it
 * uses every core by itself). Checkpoints live in the run directory (OUT/<job>/); each finished job
 * appends its figures to the ledger, which is what later jobs and the report read.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createCimModel, initBackend } from '@cim-forge/cim';
import { type FinetuneConfig } from '@cim-forge/config';
import {
  CORRUPTIONS,
  evaluateOn,
  evaluateRobustness,
  finetune,
  linearProbe,
  loadImageClassifierFile,
  loadLabelledImages,
  loadModelSafetensors,
  pretrain,
} from '@cim-forge/engine';
import { jobRun, runWeights, writeJson } from '../shared/io.ts';
import { JobStore } from '../shared/job-store.ts';
import { commitOf, load1, machineInfo } from '../shared/machine.ts';
import { Ledger, watchLoad, type LedgerEntry } from './ledger.ts';
import {
  bestGridPoint,
  ftId,
  PROTOCOL_MODEL,
  protocolFinetuneConfig,
  protocolPretrainConfig,
  protocolProbeConfig,
  seedOf,
  testSpec,
  type ProtocolBudget,
  type ProtocolJob,
} from './plan.ts';

export const PRETRAIN_ARTIFACT = 'pretrain.safetensors';
export const CHOSEN_GRID_ARTIFACT = 'chosen-grid.json';
export const ftArtifact = (id: string) => `${id}.safetensors`;

interface Ctx {
  b: ProtocolBudget;
  store: JobStore;
  ledger: Ledger;
  figures: Map<string, Record<string, unknown>>;
  log: (m: string) => void;
}

/** A job's figures and, where later jobs need it, the file kept as an artifact. */
type Outcome = { figures: Record<string, unknown>; config?: unknown };

/** Paths in a config as the repository sees them, so the ledger reads the same on every machine. */
const portable = (config: unknown) =>
  JSON.parse(JSON.stringify(config, (k, v) => (k === 'initFrom' && typeof v === 'string' ? relative(process.cwd(), v) : v)));

function cimWeights(ctx: Ctx): string {
  const p = ctx.ledger.artifact(PRETRAIN_ARTIFACT);
  if (!existsSync(p)) throw new Error(`the CIM arms need the pre-trained model ${p}: the ledger's pretrain job keeps it there`);
  return p;
}

async function ftRun(ctx: Ctx, id: string, config: FinetuneConfig, scoreTest: boolean) {
  const dir = ctx.store.dir(id);
  const res = await finetune({
    ...(await jobRun(dir, config)),
    scoreTest,
    hooks: { log: ctx.log, onEval: (e) => ctx.log(`epoch ${e.epoch.toFixed(1)} validation top-1 ${(100 * e.top1).toFixed(2)}%`) },
  });
  if (res.finalStep < res.totalSteps) throw new Error(`fine-tuning stopped at ${res.finalStep}/${res.totalSteps}`);
  return res;
}

async function ptCurve(ctx: Ctx): Promise<Outcome> {
  const { b } = ctx;
  const config = protocolPretrainConfig(b);
  const ckDir = join(ctx.store.dir('pretrain'), 'checkpoints');
  if (!existsSync(ckDir)) throw new Error(`pt-curve needs the pre-training's checkpoints in ${ckDir}: run it where the pretrain job ran`);
  const ids = (await readdir(ckDir)).filter((d) => d.startsWith('step-')).sort();
  const curve: Array<Record<string, number>> = [];
  for (const id of ids) {
    const file = join(ckDir, id, 'model.safetensors');
    const model = createCimModel(PROTOCOL_MODEL, {}, 0);
    let r;
    try {
      loadModelSafetensors(model, new Uint8Array(await readFile(file)), id);
      r = await evaluateOn(model, config, testSpec(b.ptCurveImages));
    } finally {
      model.dispose();
    }
    // does pre-training make the features better as it goes: k-NN of the online encoder at this checkpoint
    const knn = await linearProbe({
      config: {
        ...protocolProbeConfig(b, 'cim-online', 0, file),
        dataset: { kind: 'fashion-mnist', split: 'train', limit: Math.min(b.ptKnnImages, b.trainImages) },
        evalDataset: testSpec(b.ptCurveImages),
        epochs: 1,
      },
    });
    const point = {
      step: Number(id.slice(5)),
      loss: r.loss,
      meanIoU: r.meanIoU,
      priorIoU: r.priorIoU,
      allOnesIoU: r.allOnesIoU,
      mismatchedGap: r.mismatchedLoss - r.loss,
      knnTop1: knn.knnTop1 ?? NaN,
    };
    curve.push(point);
    ctx.log(
      `pt-curve ${id}: held-out loss ${r.loss.toFixed(4)}, IoU ${(100 * r.meanIoU).toFixed(2)} (centre prior ${(100 * r.priorIoU).toFixed(2)}), ` +
        `mismatched gap ${point.mismatchedGap.toFixed(4)}, k-NN ${(100 * point.knnTop1).toFixed(2)}%`,
    );
  }
  const third = curve.slice(Math.floor((2 * curve.length) / 3));
  const plateau = third.length >= 2 && third.at(-1)!.meanIoU - third[0].meanIoU < 0.01;
  return { figures: { curve, plateau } };
}

async function runOne(ctx: Ctx, job: ProtocolJob): Promise<Outcome> {
  const { b, store, ledger } = ctx;
  const dir = store.dir(job.id);
  switch (job.kind) {
    case 'pretrain': {
      const config = protocolPretrainConfig(b);
      const res = await pretrain({
        ...(await jobRun(dir, config)),
        hooks: { log: ctx.log },
      });
      if (res.stopped) throw new Error('pre-training stopped early');
      const kept = await ledger.keep(await runWeights(dir), PRETRAIN_ARTIFACT);
      return {
        config,
        figures: {
          steps: res.steps,
          earlyLoss: res.earlyLoss,
          lateLoss: res.lateLoss,
          eval: res.eval,
          artifact: { sha256: kept.sha256, bytes: kept.bytes },
        },
      };
    }
    case 'pt-curve':
      return ptCurve(ctx);
    case 'grid': {
      const config = protocolFinetuneConfig(b, { ...job, seed: 0, initFrom: job.arm === 'scratch' ? null : cimWeights(ctx), grid: true });
      const res = await ftRun(ctx, job.id, config, false);
      return { config: portable(config), figures: { valTop1: res.top1, evals: res.evals } };
    }
    case 'ft': {
      const chosen = bestGridPoint(b, job.arm, job.fraction, ctx.figures);
      const choices = JSON.parse((await readFile(ledger.artifact(CHOSEN_GRID_ARTIFACT), 'utf8').catch(() => '{}')) as string) as Record<
        string,
        unknown
      >;
      await writeJson(ledger.artifact(CHOSEN_GRID_ARTIFACT), { ...choices, [`${job.arm} f${job.fraction}`]: chosen });
      const config = protocolFinetuneConfig(b, { ...job, ...chosen, initFrom: job.arm === 'scratch' ? null : cimWeights(ctx) });
      const res = await ftRun(ctx, job.id, config, true);
      // robustness runs on the 10%-label models: keep their weights beside the ledger
      const kept =
        job.fraction === 0.1 && res.lastCheckpoint
          ? await ledger.keep(join(dir, 'checkpoints', res.lastCheckpoint, 'model.safetensors'), ftArtifact(job.id))
          : undefined;
      return {
        config: portable(config),
        figures: {
          chosen,
          valTop1: res.top1,
          testTop1: res.test?.top1,
          evals: res.evals,
          ...(kept ? { artifact: { sha256: kept.sha256, bytes: kept.bytes } } : {}),
        },
      };
    }
    case 'probe': {
      const config = protocolProbeConfig(b, job.arm, job.seed, job.arm === 'scratch' ? null : cimWeights(ctx));
      const res = await linearProbe({ config, log: ctx.log });
      return { config: portable(config), figures: { testTop1: res.top1, knnTop1: res.knnTop1, features: res.features } };
    }
    case 'robust': {
      const file = ledger.artifact(ftArtifact(ftId(job.arm, 0.1, job.seed)));
      if (!existsSync(file)) throw new Error(`robustness needs ${file}, kept by the ledger's ${ftId(job.arm, 0.1, job.seed)} job`);
      const model = await loadImageClassifierFile(file);
      try {
        const data = await loadLabelledImages(testSpec(b.robustImages), model.config.imgSize);
        const rep = await evaluateRobustness({
          forward: (x) => model.forward(x as tf.Tensor4D),
          images: data.pixels,
          labels: data.labels,
          side: data.side,
          eps: b.robustEps,
          pgdSteps: b.pgdSteps,
          corruptions: CORRUPTIONS,
          severities: b.severities,
          seed: job.seed,
        });
        return {
          figures: {
            clean: rep.clean.top1,
            fgsm: rep.fgsm?.top1,
            pgd: rep.pgd?.top1,
            mCE: rep.mCE,
            corruptionErrors: rep.corruptionErrors,
          },
        };
      } finally {
        model.dispose();
      }
    }
  }
}

/**
 * Runs every planned job the ledger does not hold (as done), in order, appending each to the
 * ledger; returns the ids run and reused.
 */
export async function runProtocol(
  o: { budget: string; b: ProtocolBudget; jobs: ProtocolJob[]; out: string; ledger: Ledger; maxLoad: number },
  log: (m: string) => void,
): Promise<{ ran: string[]; reused: string[]; loaded: string[] }> {
  const done = await o.ledger.done(o.maxLoad);
  const figures = new Map([...done].map(([id, e]) => [id, e.figures]));
  const ctx: Ctx = { b: o.b, store: new JobStore(o.out), ledger: o.ledger, figures, log };
  const reused = o.jobs.filter((j) => done.has(j.id)).map((j) => j.id);
  if (reused.length) log(`the ledger holds ${reused.length} of ${o.jobs.length} job(s): skipping them`);
  const ran: string[] = [];
  const loaded: string[] = [];
  const commit = commitOf();
  await initBackend('tensorflow');
  for (const job of o.jobs) {
    if (done.has(job.id)) continue;
    const jlog = (m: string) => log(`[${job.id}] ${m}`);
    jlog('start');
    const t0 = performance.now();
    const watch = watchLoad(load1);
    const r = await runOne({ ...ctx, log: jlog }, job);
    const load = watch.stop();
    const entry: LedgerEntry = {
      budget: o.budget,
      id: job.id,
      kind: job.kind,
      ...(seedOf(job) !== undefined ? { seed: seedOf(job) } : {}),
      ...(r.config !== undefined ? { config: r.config } : {}),
      figures: r.figures,
      seconds: (performance.now() - t0) / 1000,
      load,
      loaded: load.max > o.maxLoad,
      commit,
      machine: machineInfo(),
      finishedAt: new Date().toISOString(),
    };
    await o.ledger.append(entry);
    // a loaded job's figures still feed the jobs after it in this invocation; all of them rerun next time
    figures.set(job.id, r.figures);
    ran.push(job.id);
    if (entry.loaded) loaded.push(job.id);
    jlog(
      `done in ${entry.seconds.toFixed(1)} s (load ${load.start.toFixed(1)}–${load.max.toFixed(1)})` +
        `${entry.loaded ? `: above ${o.maxLoad}, marked for a rerun` : ''}`,
    );
  }
  return { ran, reused, loaded };
}
