/**
 * A sweep's parallel-coordinates plot (SVG): one vertical axis per searched config field and a
 * last one for the metric; each trial is a polyline through its values, coloured by its metric
 * (the best trial strongest). A loguniform field gets a log axis, a choice field one tick per
 * choice. A trial's line is a link to its run: click it, or focus it with Tab and press Enter.
 */
import { useMemo, useState } from 'react';
import type { ParamValue, SearchDomain, SearchSpace, SweepMetric, SweepTrial } from '../api/sweep-types.ts';
import { fmtTick } from './LineChart.tsx';
import { fmtNumber } from '../lib/format.ts';

export interface Axis {
  key: string;
  label: string;
  kind: 'linear' | 'log' | 'category';
  /** numeric axes */
  min: number;
  max: number;
  /** category axes: the values in order */
  categories: string[];
}

const catKey = (v: ParamValue | undefined) => (v === undefined ? '—' : JSON.stringify(v));

function domainAxis(key: string, d: SearchDomain | undefined, values: ParamValue[]): Axis {
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (d && 'choice' in d) {
    const cats = d.choice.map(catKey);
    for (const v of values) if (!cats.includes(catKey(v))) cats.push(catKey(v));
    return { key, label: key, kind: 'category', min: 0, max: 0, categories: cats };
  }
  if (d && ('uniform' in d || 'loguniform' in d || 'int' in d)) {
    const [lo, hi] = 'uniform' in d ? d.uniform : 'loguniform' in d ? d.loguniform : d.int;
    return {
      key,
      label: key,
      kind: 'loguniform' in d ? 'log' : 'linear',
      min: Math.min(lo, ...nums),
      max: Math.max(hi, ...nums),
      categories: [],
    };
  }
  // a field the space does not describe: numbers on a linear axis, anything else as categories
  if (nums.length === values.length && nums.length > 0)
    return { key, label: key, kind: 'linear', min: Math.min(...nums), max: Math.max(...nums), categories: [] };
  return { key, label: key, kind: 'category', min: 0, max: 0, categories: [...new Set(values.map(catKey))] };
}

/** the axes: the space's fields in its order, then the metric */
export function axesOf(space: SearchSpace, trials: SweepTrial[], metric: SweepMetric): Axis[] {
  const keys = [...Object.keys(space)];
  for (const t of trials) for (const k of Object.keys(t.params)) if (!keys.includes(k)) keys.push(k);
  const axes = keys.map((k) =>
    domainAxis(
      k,
      space[k],
      trials.filter((t) => k in t.params).map((t) => t.params[k]),
    ),
  );
  const ms = trials.map((t) => t.metric).filter((v): v is number => v !== null && Number.isFinite(v));
  const [lo, hi] = ms.length ? [Math.min(...ms), Math.max(...ms)] : [0, 1];
  axes.push({ key: '__metric', label: `${metric.name} (${metric.goal})`, kind: 'linear', min: lo, max: hi, categories: [] });
  return axes;
}

/** a value's position on an axis, 0 (bottom) … 1 (top); null when it has none */
export function position(a: Axis, v: ParamValue | undefined): number | null {
  if (a.kind === 'category') {
    const i = a.categories.indexOf(catKey(v));
    if (i < 0) return null;
    return a.categories.length === 1 ? 0.5 : i / (a.categories.length - 1);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  if (a.max === a.min) return 0.5;
  if (a.kind === 'log') {
    if (v <= 0 || a.min <= 0) return null;
    return (Math.log(v) - Math.log(a.min)) / (Math.log(a.max) - Math.log(a.min));
  }
  return (v - a.min) / (a.max - a.min);
}

/** tick values on an axis: decades (and 3×) on log axes, 5 even steps on linear ones */
export function ticksOf(a: Axis): { at: number; label: string }[] {
  if (a.kind === 'category')
    return a.categories.map((c, i) => ({
      at: a.categories.length === 1 ? 0.5 : i / (a.categories.length - 1),
      label: c.replace(/^"|"$/g, ''),
    }));
  if (a.max === a.min) return [{ at: 0.5, label: fmtTick(a.min) }];
  if (a.kind === 'log') {
    const out: { at: number; label: string }[] = [];
    for (let e = Math.floor(Math.log10(a.min)); e <= Math.ceil(Math.log10(a.max)); e++)
      for (const m of [1, 3]) {
        const v = m * 10 ** e;
        if (v >= a.min * (1 - 1e-9) && v <= a.max * (1 + 1e-9)) out.push({ at: position(a, v)!, label: fmtTick(v) });
      }
    if (out.length < 2)
      return [
        { at: 0, label: fmtTick(a.min) },
        { at: 1, label: fmtTick(a.max) },
      ];
    return out;
  }
  return [0, 0.25, 0.5, 0.75, 1].map((f) => ({ at: f, label: fmtTick(a.min + f * (a.max - a.min)) }));
}

/** a colour from worst (grey-blue) to best (strong orange) */
function colourOf(f: number | null): string {
  if (f === null) return 'var(--muted)';
  const hue = 215 - 190 * f;
  return `hsl(${hue.toFixed(0)} 75% ${(52 - 6 * f).toFixed(0)}%)`;
}

export function ParallelCoordinates({
  space,
  trials,
  metric,
  bestIndex,
  onOpen,
}: {
  space: SearchSpace;
  trials: SweepTrial[];
  metric: SweepMetric;
  bestIndex: number | null;
  onOpen(t: SweepTrial): void;
}) {
  const [hover, setHover] = useState<number | null>(null);
  const axes = useMemo(() => axesOf(space, trials, metric), [space, trials, metric]);
  const width = 960;
  const height = 320;
  const pad = { left: 70, right: 110, top: 34, bottom: 26 };
  const step = axes.length > 1 ? (width - pad.left - pad.right) / (axes.length - 1) : 0;
  const xOf = (i: number) => pad.left + i * step;
  const yOf = (f: number) => pad.top + (1 - f) * (height - pad.top - pad.bottom);
  const metricAxis = axes[axes.length - 1];
  const lines = trials.map((t) => {
    const pts: [number, number][] = [];
    axes.forEach((a, i) => {
      const f = position(a, a.key === '__metric' ? (t.metric ?? undefined) : t.params[a.key]);
      if (f !== null) pts.push([xOf(i), yOf(f)]);
    });
    const m = position(metricAxis, t.metric ?? undefined);
    // goal max: high is good; goal min: low is good
    const goodness = m === null ? null : metric.goal === 'max' ? m : 1 - m;
    return { t, pts, goodness };
  });
  // the best on top, a hovered one above all
  const order = [...lines].sort((a, b) => (a.goodness ?? -1) - (b.goodness ?? -1));
  const hovered = lines.find((l) => l.t.index === hover);
  const describe = (t: SweepTrial) =>
    `trial ${t.index}: ${Object.entries(t.params)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNumber(v) : String(v)}`)
      .join(', ')}; ${metric.name} ${fmtNumber(t.metric)}; ${t.status}`;
  return (
    <figure className="pcoords" data-testid="pcoords">
      <svg viewBox={`0 0 ${width} ${height}`} role="group" aria-label={`Parameters and ${metric.name} of each trial`}>
        {axes.map((a, i) => (
          <g key={a.key} className="pc-axis" data-axis={a.key} data-scale={a.kind} transform={`translate(${xOf(i)},0)`}>
            <line y1={yOf(0)} y2={yOf(1)} />
            <text className="pc-axis-label" y={pad.top - 14} textAnchor="middle">
              {a.label}
              {a.kind === 'log' ? ' (log)' : ''}
            </text>
            {ticksOf(a).map((tk) => (
              <g key={`${tk.label}-${tk.at}`} transform={`translate(0,${yOf(tk.at)})`}>
                <line x1={-4} x2={0} />
                <text x={-7} dy="0.32em" textAnchor="end">
                  {tk.label}
                </text>
              </g>
            ))}
          </g>
        ))}
        {order.map(({ t, pts, goodness }) => (
          <polyline
            key={t.index}
            className={`pc-line${t.index === bestIndex ? ' pc-best' : ''}${t.metric === null ? ' pc-nometric' : ''}`}
            data-trial={t.index}
            data-run-id={t.runId ?? undefined}
            points={pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}
            stroke={colourOf(goodness)}
            tabIndex={t.runId ? 0 : undefined}
            role={t.runId ? 'link' : undefined}
            aria-label={describe(t)}
            onMouseEnter={() => setHover(t.index)}
            onMouseLeave={() => setHover((h) => (h === t.index ? null : h))}
            onFocus={() => setHover(t.index)}
            onBlur={() => setHover((h) => (h === t.index ? null : h))}
            onClick={() => t.runId && onOpen(t)}
            onKeyDown={(e) => {
              if ((e.key === 'Enter' || e.key === ' ') && t.runId) {
                e.preventDefault();
                onOpen(t);
              }
            }}
          >
            <title>{describe(t)}</title>
          </polyline>
        ))}
        {hovered && (
          <polyline className="pc-line pc-hover" points={hovered.pts.map(([x, y]) => `${x},${y}`).join(' ')} pointerEvents="none" />
        )}
      </svg>
      <figcaption className="muted small">
        {hovered ? describe(hovered.t) : `${trials.length} trials; colour: ${metric.name}, best strongest. Click a line to open its run.`}
      </figcaption>
    </figure>
  );
}
