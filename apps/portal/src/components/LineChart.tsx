/**
 * A uPlot line chart (canvas: 100k+ points stay fast, where SVG charts slow down past ~10k).
 * Series with different steps are joined on one x axis (uPlot.join). Log scale, smoothing
 * (applied by the caller) and the theme's colours; the width follows the container.
 */
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  x: number[];
  y: (number | null)[];
  /** #rrggbb; default: the palette in order */
  color?: string;
  /** a dimmer line (e.g. the raw values under a smoothed curve) */
  faint?: boolean;
  /** dots at the points and no line between them (values that are not a curve, e.g. one per trial) */
  dots?: boolean;
}

/** x ticks on whole steps */
const STEP_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6];

export const PALETTE = ['#2f6fdd', '#e4572e', '#17a673', '#a05ad8', '#f0a202', '#1fa2b8', '#d6336c', '#6c757d'];

/** a faint series at a third of its colour's opacity */
const stroke = (color: string, faint?: boolean) => (faint ? `${color}55` : color);

function cssVar(name: string, fallback: string): string {
  const v = typeof getComputedStyle === 'function' ? getComputedStyle(document.documentElement).getPropertyValue(name).trim() : '';
  return v || fallback;
}

/** axis and legend numbers: short, and readable for 1e-4 learning rates */
export function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-2 || a >= 1e5) return v.toExponential(1).replace('e-', 'e−');
  return Number(v.toPrecision(3)).toString();
}

export function LineChart({
  title,
  series,
  logY = false,
  height = 240,
  xLabel = 'step',
  testId,
  marks = [],
}: {
  title: string;
  series: ChartSeries[];
  logY?: boolean;
  height?: number;
  xLabel?: string;
  testId?: string;
  /** vertical dashed lines at these x values (a sweep's rung budgets) */
  marks?: number[];
}) {
  // the theme's colours are read when the chart is built: rebuild when it changes
  const theme = typeof document !== 'undefined' ? document.documentElement.dataset.theme : undefined;
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  const data = useMemo(
    () =>
      uPlot.join(
        series.map((s) => [s.x, s.y.map((v) => (v === null || (logY && v <= 0) ? null : v))] as uPlot.AlignedData),
      ) as uPlot.AlignedData,
    [series, logY],
  );
  const dataRef = useRef(data);
  dataRef.current = data;
  // the chart is rebuilt only when its shape changes; new points go in with setData
  const shape = JSON.stringify([series.map((s) => [s.label, s.color ?? '', !!s.faint, !!s.dots]), logY, height, title, xLabel, marks]);
  // Empty, the component renders a placeholder without the chart's host element. The chart must
  // be built again when the first points arrive: a finished run's page renders its series list
  // before the series themselves, so every chart starts empty, and with the shape alone in the
  // effect's dependencies the host appeared with no uPlot in it (an empty frame, for ever).
  const empty = series.length === 0 || series.every((s) => s.x.length === 0);

  useEffect(() => {
    const host = el.current;
    if (!host || empty) return;
    const fg = cssVar('--fg', '#222');
    const grid = cssVar('--grid', '#ddd');
    const ticks = (_u: uPlot, vals: number[]) => vals.map((v) => (v === null ? '' : fmtTick(v)));
    const opts: uPlot.Options = {
      width: Math.max(200, host.clientWidth),
      height,
      title,
      scales: { x: { time: false }, y: logY ? { distr: 3 } : {} },
      axes: [
        { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, label: xLabel, values: ticks, incrs: STEP_INCRS },
        { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, size: 64, values: ticks },
      ],
      legend: { live: true },
      // what was drawn, for the browser tests: the points with a value in the data uPlot holds
      hooks: {
        draw: [
          (u: uPlot) => {
            let n = 0;
            for (let i = 1; i < u.data.length; i++) for (const v of u.data[i]) if (v !== null && v !== undefined) n++;
            host.dataset.drawn = String(n);
            // the marks: a dashed line across the plot at each x inside the x scale's range
            const { ctx, bbox } = u;
            let shown = 0;
            ctx.save();
            ctx.strokeStyle = fg;
            ctx.globalAlpha = 0.55;
            ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.lineWidth = devicePixelRatio;
            for (const m of marks) {
              const { min, max } = u.scales.x;
              if (min === undefined || max === undefined || m < min || m > max) continue;
              const x = Math.round(u.valToPos(m, 'x', true)) + 0.5;
              ctx.beginPath();
              ctx.moveTo(x, bbox.top);
              ctx.lineTo(x, bbox.top + bbox.height);
              ctx.stroke();
              shown++;
            }
            ctx.restore();
            host.dataset.marks = String(shown);
          },
        ],
      },
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: xLabel },
        ...series.map((s, i) => {
          const base = s.color ?? PALETTE[i % PALETTE.length];
          return {
            label: s.label,
            stroke: stroke(base, s.faint),
            width: s.faint ? 1 : 1.75,
            spanGaps: true,
            ...(s.dots
              ? { paths: () => null, points: { show: true, size: 6, width: 1, fill: stroke(base, s.faint) } }
              : { points: { show: false } }),
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmtTick(v)),
          } satisfies uPlot.Series;
        }),
      ],
    };
    plot.current = new uPlot(opts, dataRef.current, host);
    // only a real width change resizes (a scrollbar flickering in and out must not loop)
    let lastWidth = host.clientWidth;
    const ro =
      typeof ResizeObserver === 'function'
        ? new ResizeObserver(() => {
            if (Math.abs(host.clientWidth - lastWidth) < 2) return;
            lastWidth = host.clientWidth;
            plot.current?.setSize({ width: Math.max(200, lastWidth), height });
          })
        : null;
    ro?.observe(host);
    return () => {
      ro?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // the shape string stands for series, logY, height, title, xLabel and marks
  }, [shape, theme, empty]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  if (empty) {
    return (
      <div className="chart chart-empty" data-testid={testId}>
        <div className="chart-title">{title}</div>
        <p className="muted">No points yet.</p>
      </div>
    );
  }
  return <div className="chart" ref={el} data-testid={testId} data-points={series.reduce((n, s) => n + s.x.length, 0)} />;
}
