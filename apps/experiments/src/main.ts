/**
 * `npm run experiment:paper-mini`: the paper's claim, measured.
 *
 *   --budget full|quick|tiny          the miniature ViT table (issue 7): mini/
 *   --budget protocol|protocol-tiny   issue 15/26's protocol on the micro ResNet, with the ledger: protocol/
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { budgets, planJobs, type BudgetName, type Job } from './mini/plan.ts';
import { buildReport, cliCommands, markdown } from './mini/report.ts';
import { runAll, runJob } from './mini/runner.ts';
import { UsageError } from './shared/io.ts';
import { JobStore } from './shared/job-store.ts';
import { DEFAULT_MAX_LOAD } from './protocol/ledger.ts';
import { mainProtocol } from './protocol/main.ts';
import { protocolBudgets, type ProtocolBudgetName } from './protocol/plan.ts';

const help = `Usage: npm run experiment:paper-mini -- [options]

Measures the paper's claim: does CIM pre-training (labels unused) beat training from scratch when
labels are scarce? Every job is resumable; finished jobs are never rerun.

  --budget B        protocol (the claim, on cimResnetMicro) | protocol-tiny (a smoke test of it, minutes)
                    | protocol-issue15 (issue 15's uncut protocol, for its estimate)
                    | full (default) | quick | tiny: the older miniature table on the micro ViT (no ledger)
  --seeds LIST      comma-separated fine-tuning seeds (default 0,1,2)
  --dry-run         protocol: print the plan and its estimated wall time, seed 0 and the other seeds apart,
                    from the throughputs in experiments/paper-protocol/throughputs.json; run nothing
  --throughputs P   protocol: the throughput profile the estimate uses (default: the table's "use")
  --report          protocol: rebuild the results page from the ledger alone; run nothing
  --ledger DIR      protocol: the ledger (ledger.jsonl) and its artifacts/ (default experiments/paper-protocol
                    for --budget protocol, OUT/ledger otherwise)
  --max-load X      protocol: a job whose load average went above X is marked and rerun (default ${DEFAULT_MAX_LOAD})
  --out DIR         run directories: checkpoints and metrics (default runs/paper-<budget>, mini: runs/paper-mini)
  --results FILE    the page written (protocol: docs/results.md, others: OUT/results.md)
  --parallel N      mini budgets: jobs at once, as child processes (default 1)

The protocol: pre-training on all 60k train images with a held-out curve (correlation loss, map IoU
beside the exemplar-blind centre prior's, mismatched-exemplar gap, k-NN per checkpoint); per arm
(scratch, CIM online, CIM target) a base lr × layer decay pilot grid scored on a validation split
(10% of train), never on test; 1/10/100% fine-tunes per seed scored once on test; linear probe and
k-NN (k = 20); FGSM / PGD / mCE for the 10%-label models. Each finished job appends a line to the
ledger with its figures, wall time, load average and commit; run it on a quiet machine:

  npm run experiment:paper-mini -- --budget protocol --dry-run     # the plan and the hours
  npm run experiment:paper-mini -- --budget protocol --seeds 0     # seed 0 (≤ 2.5 h at the target speed)
  npm run experiment:paper-mini -- --budget protocol               # seeds 1 and 2 (the ledger skips seed 0)
  npm run experiment:paper-mini -- --budget protocol --report      # docs/results.md from the ledger`;

function parseSeeds(v: string | undefined): number[] {
  const seeds = (v ?? '0,1,2').split(',').map((s) => Number(s.trim()));
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0) || new Set(seeds).size !== seeds.length)
    throw new UsageError(`--seeds must be distinct non-negative integers, got "${v}"`);
  return seeds;
}

async function mainMini(budget: BudgetName, seeds: number[], v: Record<string, string | boolean | undefined>, log: (m: string) => void) {
  const parallel = Number(v.parallel ?? 1);
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel must be a positive integer, got "${v.parallel}"`);
  const outArg = (v.out as string | undefined) ?? 'runs/paper-mini';
  const resultsArg = (v.results as string | undefined) ?? `${outArg}/results.md`;
  const store = new JobStore(resolve(outArg));
  await store.claim(budget, budgets[budget]);
  const t0 = performance.now();
  log(`paper-mini: budget ${budget}, seeds ${seeds.join(',')}, parallel ${parallel}, out ${store.out}`);
  const { results, reused } = await runAll(planJobs(budget, seeds, store.out), parallel, log);
  const totalSeconds = (performance.now() - t0) / 1000;
  const rep = buildReport(budget, parallel, seeds, results, totalSeconds, reused);
  const md = markdown(rep, results, cliCommands(budgets[budget], budget, seeds, outArg, resultsArg, parallel));
  await mkdir(dirname(resolve(resultsArg)), { recursive: true });
  await writeFile(resolve(resultsArg), md);
  log(`wrote ${resolve(resultsArg)} in ${totalSeconds.toFixed(1)} s`);
  const perSeed = Object.fromEntries([...results.values()].filter((r) => r.top1 !== undefined).map((r) => [r.id, 100 * r.top1!]));
  console.log(JSON.stringify({ ...rep, perSeed, results: resolve(resultsArg), out: store.out }));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      budget: { type: 'string' },
      seeds: { type: 'string' },
      parallel: { type: 'string' },
      out: { type: 'string' },
      results: { type: 'string' },
      job: { type: 'string' },
      ledger: { type: 'string' },
      'max-load': { type: 'string' },
      throughputs: { type: 'string' },
      'dry-run': { type: 'boolean' },
      report: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if (values.job) {
    await runJob(JSON.parse(await readFile(values.job, 'utf8')) as Job, log);
    return 0;
  }
  const budget = values.budget ?? 'full';
  const seeds = parseSeeds(values.seeds);
  if (Object.hasOwn(protocolBudgets, budget)) {
    const maxLoad = Number(values['max-load'] ?? DEFAULT_MAX_LOAD);
    if (!(maxLoad > 0)) throw new UsageError(`--max-load must be a positive number, got "${values['max-load']}"`);
    return mainProtocol(
      {
        name: budget as ProtocolBudgetName,
        seeds,
        out: values.out,
        results: values.results,
        ledger: values.ledger,
        maxLoad,
        throughputs: values.throughputs,
        dryRun: values['dry-run'] ?? false,
        reportOnly: values.report ?? false,
      },
      log,
    );
  }
  if (!Object.hasOwn(budgets, budget))
    throw new UsageError(
      `--budget must be protocol, protocol-tiny or protocol-issue15 (the ResNet protocol), or full, quick or tiny (the ViT table), got "${values.budget}"`,
    );
  if (values['dry-run'] || values.report) throw new UsageError('--dry-run and --report are for the protocol budgets');
  return mainMini(budget as BudgetName, seeds, values, log);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`${e instanceof UsageError ? '' : `${e.stack}\n`}${e.message}\n`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}
