/**
 * docs/results.md, generated from the ledger alone: the table (mean ± std over seeds, CIM − scratch
 * with its standard error), robustness (mCE normalised by scratch), the grid and its choices, the
 * pre-training curve with the centre prior and k-NN, and where every figure came from.
 */
import { cell, fmtCell, verdict, type Cell } from '../shared/stats.ts';
import type { LedgerEntry } from './ledger.ts';
import { ARMS, ftId, gridFractionsOf, gridId, pct, probeId, robustId, type Arm, type ProtocolBudget, type ProtocolJob } from './plan.ts';

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function cellOf(done: Map<string, LedgerEntry>, ids: string[], key: string, scale = 100): Cell | undefined {
  const v = ids.map((id) => num(done.get(id)?.figures[key])).filter((x): x is number => x !== undefined);
  return v.length ? cell(v.map((x) => x * scale)) : undefined;
}
const show = (c: Cell | undefined) => (c ? fmtCell(c) : '-');

export interface ReportInput {
  budget: string;
  b: ProtocolBudget;
  seeds: number[];
  jobs: ProtocolJob[];
  /** every ledger entry of the budget (loaded ones included: the page lists them as to be rerun) */
  entries: LedgerEntry[];
  done: Map<string, LedgerEntry>;
  maxLoad: number;
  /** the ledger file, as the page names it */
  ledgerPath: string;
  /** the command that regenerates the page and the one that runs what is missing */
  commands: { report: string; run: string; dryRun: string };
}

function differences(i: ReportInput, fraction: number): string {
  const scratch = cellOf(
    i.done,
    i.seeds.map((s) => ftId('scratch', fraction, s)),
    'testTop1',
  );
  return (['cim-online', 'cim-target'] as Arm[])
    .map((arm) => {
      const c = cellOf(
        i.done,
        i.seeds.map((s) => ftId(arm, fraction, s)),
        'testTop1',
      );
      if (!c || !scratch) return `${arm} − scratch: -`;
      const v = verdict(c, scratch);
      return `${arm} − scratch: ${v.diff >= 0 ? '+' : ''}${v.diff.toFixed(2)} points (standard error ${v.se.toFixed(2)}, ${c.n} vs ${scratch.n} seeds)`;
    })
    .join('; ');
}

export function protocolMarkdown(i: ReportInput): string {
  const { b, done, seeds } = i;
  const todo = i.jobs.filter((j) => !done.has(j.id));
  const loaded = [...new Set(i.entries.filter((e) => e.load.max > i.maxLoad && !done.has(e.id)).map((e) => e.id))];
  const col = (ids: string[], k: string) => show(cellOf(done, ids, k));
  const curve = (done.get('pt-curve')?.figures.curve as Array<Record<string, number>> | undefined) ?? [];
  const scratchMce = cellOf(
    done,
    seeds.map((s) => robustId('scratch', s)),
    'mCE',
    1,
  );
  const commits = [...new Set([...done.values()].map((e) => e.commit))];
  const loads = [...done.values()].map((e) => e.load.max);
  const lines = [
    "# Results: the paper's protocol on cimResnetMicro, Fashion-MNIST",
    '',
    `Generated from \`${i.ledgerPath}\` alone (budget \`${i.budget}\`, seeds ${seeds.join(', ')}) by \`${i.commands.report}\`; do not edit by hand.`,
    '',
    `**Status:** the ledger holds ${i.jobs.length - todo.length} of the ${i.jobs.length} planned jobs.` +
      (todo.length
        ? ` Still to run: ${todo.length} (${[...new Set(todo.map((j) => j.kind))].join(', ')}); ` +
          `\`${i.commands.dryRun}\` prints their estimate, \`${i.commands.run}\` runs them.`
        : ' The protocol is complete.') +
      (loaded.length ? ` Ran at a load above ${i.maxLoad} and must be rerun: ${loaded.join(', ')}.` : ''),
    '',
    `Test top-1 (%) on ${b.testImages ? `the first ${b.testImages} test images` : 'the 10k test split'}, mean ± std over seeds. ` +
      'Every fine-tune uses its arm\'s grid point with the best validation top-1; "-" = not yet in the ledger.',
    '',
    `| arm | ${b.fractions.map((f) => `fine-tune ${pct(f)}%`).join(' | ')} | linear probe | k-NN (k = ${b.knnK}) |`,
    `| --- | ${b.fractions.map(() => '---').join(' | ')} | --- | --- |`,
    ...ARMS.map(
      (arm) =>
        `| ${arm} | ${b.fractions
          .map((f) =>
            col(
              seeds.map((s) => ftId(arm, f, s)),
              'testTop1',
            ),
          )
          .join(' | ')} | ` +
        `${col(
          seeds.map((s) => probeId(arm, s)),
          'testTop1',
        )} | ${col(
          seeds.map((s) => probeId(arm, s)),
          'knnTop1',
        )} |`,
    ),
    '',
    ...b.fractions.map((f) => `- ${pct(f)}% labels: ${differences(i, f)}`),
    '',
    `## Robustness of the 10%-label models (first ${b.robustImages} test images, scored once)`,
    '',
    `FGSM and PGD (${b.pgdSteps} steps) at ε = ${(b.robustEps * 255).toFixed(0)}/255; mCE over 7 ` +
      `corruptions at severities ${b.severities.join(', ')}, normalised by scratch (scratch = 1).`,
    '',
    '| arm | clean | FGSM | PGD | mCE (scratch = 1) |',
    '| --- | --- | --- | --- | --- |',
    ...ARMS.map((arm) => {
      const ids = seeds.map((s) => robustId(arm, s));
      const mce = cellOf(done, ids, 'mCE', 1);
      const norm = mce && scratchMce ? `${(mce.mean / scratchMce.mean).toFixed(3)}` : '-';
      return `| ${arm} | ${col(ids, 'clean')} | ${col(ids, 'fgsm')} | ${col(ids, 'pgd')} | ${norm} |`;
    }),
    '',
    `## Grid (validation top-1 %, seed 0, ${b.gridEpochScale} × the epochs, on ${gridFractionsOf(b)
      .map((f) => `${pct(f)}%`)
      .join(', ')} of the labels)`,
    '',
    '| arm | fraction | base lr | layer decay | validation top-1 |',
    '| --- | --- | --- | --- | --- |',
    ...ARMS.flatMap((arm) =>
      gridFractionsOf(b).flatMap((f) =>
        b.lrGrid.flatMap((lr) =>
          b.layerDecayGrid.map((ld) => {
            const v = num(done.get(gridId(arm, f, lr, ld))?.figures.valTop1);
            return `| ${arm} | ${pct(f)}% | ${lr} | ${ld} | ${v === undefined ? '-' : (100 * v).toFixed(2)} |`;
          }),
        ),
      ),
    ),
    '',
    '## Pre-training curve (held-out)',
    '',
    'Map IoU beside the best exemplar-blind prediction (the centre prior: the mean true map of the training set at each exemplar scale); ' +
      "the mismatched-exemplar gap is what the exemplars tell the model; k-NN is the online encoder's top-1 at that checkpoint.",
    '',
    '| step | correlation loss | map IoU % | centre-prior IoU % | mismatched-exemplar gap | k-NN top-1 % |',
    '| --- | --- | --- | --- | --- | --- |',
    ...curve.map(
      (p) =>
        `| ${p.step} | ${p.loss.toFixed(4)} | ${(100 * p.meanIoU).toFixed(2)} | ${num(p.priorIoU) === undefined ? '-' : (100 * p.priorIoU).toFixed(2)} | ` +
        `${p.mismatchedGap.toFixed(4)} | ${num(p.knnTop1) === undefined ? '-' : (100 * p.knnTop1).toFixed(2)} |`,
    ),
    '',
    `Plateau (the last third of the curve gains < 1 IoU point): ${done.get('pt-curve')?.figures.plateau ?? '-'}`,
    '',
    '## Provenance',
    '',
    done.size
      ? `${done.size} job(s) from commit(s) ${commits.join(', ')}, on ` +
        `${[...new Set([...done.values()].map((e) => `${e.machine.cpu} (${e.machine.cores} cores)`))].join('; ')}; ` +
        `the highest load average any of them saw: ${Math.max(...loads).toFixed(2)} (jobs above ${i.maxLoad} are rerun). ` +
        `Job-hours in the ledger: ${([...done.values()].reduce((a, e) => a + e.seconds, 0) / 3600).toFixed(2)}.`
      : 'No job has finished yet.',
    '',
    'The protocol, its sizing and what each cut gives up: [paper-protocol.md](paper-protocol.md). ' +
      'Earlier diagnostics on the ViT: [diagnostics-paper-mini.md](diagnostics-paper-mini.md).',
    '',
  ];
  return lines.join('\n');
}
