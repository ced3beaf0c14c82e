/** `--budget protocol…`: the dry run (plan and estimate), the run (ledger-backed, resumable), the report. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtHours } from '../shared/stats.ts';
import { JobStore } from '../shared/job-store.ts';
import { Ledger } from './ledger.ts';
import { planProtocol, protocolBudgets, type ProtocolBudgetName, type ProtocolJob } from './plan.ts';
import { protocolMarkdown } from './report.ts';
import { runProtocol } from './runner.ts';
import { estimateJobSeconds, estimateProtocol, gridPointsOf, readThroughputs } from './throughput.ts';

/** the committed ledger and throughput table (relative to the repository root) */
export const LEDGER_DIR = 'experiments/paper-protocol';
export const THROUGHPUTS = fileURLToPath(new URL('../../../../experiments/paper-protocol/throughputs.json', import.meta.url));

export interface ProtocolArgs {
  name: ProtocolBudgetName;
  seeds: number[];
  out?: string;
  results?: string;
  ledger?: string;
  maxLoad: number;
  throughputs?: string;
  dryRun: boolean;
  reportOnly: boolean;
}

/** Where a budget keeps things: only `protocol` writes the committed ledger and docs/results.md by default. */
export function protocolPaths(a: ProtocolArgs): { out: string; ledger: string; results: string } {
  const out = a.out ?? `runs/paper-${a.name}`;
  const main = a.name === 'protocol';
  return {
    out,
    ledger: a.ledger ?? (main ? LEDGER_DIR : join(out, 'ledger')),
    results: a.results ?? (main ? 'docs/results.md' : join(out, 'results.md')),
  };
}

function summary(byKind: Record<string, number>): string {
  return Object.entries(byKind)
    .map(([k, v]) => `    ${k.padEnd(10)} ${fmtHours(v)}`)
    .join('\n');
}

export async function mainProtocol(a: ProtocolArgs, log: (m: string) => void): Promise<number> {
  const b = protocolBudgets[a.name];
  const paths = protocolPaths(a);
  const ledger = new Ledger(resolve(paths.ledger), a.name);
  const jobs = planProtocol(b, a.seeds);
  const done = await ledger.done(a.maxLoad);
  const seedFlag = `--seeds ${a.seeds.join(',')}`;
  const budgetFlag = `--budget ${a.name} ${seedFlag}${a.out ? ` --out ${a.out}` : ''}${a.ledger ? ` --ledger ${a.ledger}` : ''}`;
  const writeReport = async () => {
    const md = protocolMarkdown({
      budget: a.name,
      b,
      seeds: a.seeds,
      jobs,
      entries: await ledger.entries(),
      done: await ledger.done(a.maxLoad),
      maxLoad: a.maxLoad,
      ledgerPath: relative(process.cwd(), ledger.path),
      commands: {
        report: `npm run experiment:paper-mini -- ${budgetFlag} --report`,
        run: `npm run experiment:paper-mini -- ${budgetFlag}`,
        dryRun: `npm run experiment:paper-mini -- ${budgetFlag} --dry-run`,
      },
    });
    await mkdir(dirname(resolve(paths.results)), { recursive: true });
    await writeFile(resolve(paths.results), md);
    log(`wrote ${relative(process.cwd(), resolve(paths.results))} from ${relative(process.cwd(), ledger.path)}`);
  };

  if (a.dryRun) {
    const { name: profile, tp } = await readThroughputs(THROUGHPUTS, a.throughputs);
    const todo: ProtocolJob[] = jobs.filter((j) => !done.has(j.id));
    const all = estimateProtocol(b, jobs, tp);
    const left = estimateProtocol(b, todo, tp);
    const counts: Record<string, number> = {};
    for (const j of jobs) counts[j.kind] = (counts[j.kind] ?? 0) + 1;
    log(
      [
        `protocol ${a.name}: ${jobs.length} jobs (${Object.entries(counts)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')}; ${gridPointsOf(b)} grid points), ${done.size} in the ledger ${relative(process.cwd(), ledger.path)}`,
        `throughputs (${profile}, experiments/paper-protocol/throughputs.json): fine-tuning ${tp.finetune} ` +
          `img/s, pre-training ${tp.pretrain}, features ${tp.features}`,
        `  seed 0 (pre-training, curve, grid, seed-0 fine-tunes, probes, robustness): ${fmtHours(all.seed0Total)}`,
        summary(all.seed0),
        `  seeds ${a.seeds.filter((s) => s !== 0).join(', ') || '-'}: ${fmtHours(all.otherSeedsTotal)}`,
        summary(all.otherSeeds),
        `  total ${fmtHours(all.seed0Total + all.otherSeedsTotal)}; left to run (not in the ledger): ${fmtHours(left.seed0Total + left.otherSeedsTotal)}`,
      ].join('\n'),
    );
    console.log(
      JSON.stringify({
        budget: a.name,
        seeds: a.seeds,
        throughputs: profile,
        jobs: jobs.map((j) => ({ id: j.id, kind: j.kind, estimateSeconds: estimateJobSeconds(b, j, tp), done: done.has(j.id) })),
        estimateSeconds: { seed0: all.seed0Total, otherSeeds: all.otherSeedsTotal, left: left.seed0Total + left.otherSeedsTotal },
      }),
    );
    return 0;
  }
  if (a.reportOnly) {
    await writeReport();
    return 0;
  }
  const store = new JobStore(resolve(paths.out));
  await store.claim(a.name, b);
  const t0 = performance.now();
  const r = await runProtocol({ budget: a.name, b, jobs, out: store.out, ledger, maxLoad: a.maxLoad }, log);
  await writeReport();
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ budget: a.name, seeds: a.seeds, ...r, ledger: ledger.path, results: resolve(paths.results), seconds }));
  return 0;
}
