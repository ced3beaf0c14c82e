/** An eval run's robustness report (the run.eval event's data) as tables. */
import { fmtNumber } from '../lib/format.ts';

export interface RobustnessReport {
  images: number;
  clean: { top1: number };
  fgsm: { top1: number } | null;
  pgd: { top1: number } | null;
  corruptions: Record<string, Record<string, number>>;
  corruptionErrors: Record<string, number>;
  mCE: number | null;
  settings?: { eps?: number; pgdSteps?: number };
}

export function isRobustnessReport(d: unknown): d is RobustnessReport {
  return typeof d === 'object' && d !== null && 'clean' in d && 'corruptions' in d;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);

export function RobustnessTables({ report }: { report: RobustnessReport }) {
  const corruptions = Object.keys(report.corruptions);
  const severities = [...new Set(corruptions.flatMap((c) => Object.keys(report.corruptions[c])))].sort();
  return (
    <div className="robustness" data-testid="robustness">
      <table className="table compact">
        <caption>Top-1 on {report.images} held-out images</caption>
        <thead>
          <tr>
            <th>clean</th>
            <th>FGSM{report.settings?.eps !== undefined ? ` (ε ${report.settings.eps})` : ''}</th>
            <th>PGD{report.settings?.pgdSteps ? ` (${report.settings.pgdSteps} steps)` : ''}</th>
            <th>mCE</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <td className="num">{pct(report.clean.top1)}</td>
            <td className="num">{pct(report.fgsm?.top1)}</td>
            <td className="num">{pct(report.pgd?.top1)}</td>
            <td className="num">{fmtNumber(report.mCE)}</td>
          </tr>
        </tbody>
      </table>
      {corruptions.length > 0 && (
        <table className="table compact">
          <caption>Top-1 under common corruptions, by severity</caption>
          <thead>
            <tr>
              <th>corruption</th>
              {severities.map((s) => (
                <th key={s}>severity {s}</th>
              ))}
              <th>CE</th>
            </tr>
          </thead>
          <tbody>
            {corruptions.map((c) => (
              <tr key={c}>
                <th scope="row">{c}</th>
                {severities.map((s) => (
                  <td key={s} className="num">
                    {pct(report.corruptions[c][s])}
                  </td>
                ))}
                <td className="num">{fmtNumber(report.corruptionErrors[c])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
