/**
 * A new sweep. ?from=<run> pre-fills it: from a finished pre-training, a fine-tuning sweep of its
 * latest checkpoint over the learning rate (ASHA, 9 trials, 3 at once: the example); from
 * any other run, a sweep with that run's kind and config as the base. "Preview" asks the API for
 * the trial plan (validateOnly) before anything is created; its refusals are shown with their reason.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Presets, Run } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { Link, useRouter, useSearchState } from '../routing.tsx';
import type { SearchSpace, SweepAlgorithm, SweepBody, SweepPlan } from '../api/sweep-types.ts';
import { formatValue } from '../lib/config-diff.ts';
import { shortId } from '../lib/format.ts';
import { fmtParam } from './sweep.tsx';

export interface SweepForm {
  name: string;
  base: string;
  space: string;
  algorithm: 'grid' | 'random' | 'asha';
  seed: number;
  eta: number;
  metricName: string;
  goal: 'max' | 'min';
  maxTrials: number;
  maxConcurrent: number;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

/** the form a run pre-fills (see the file's comment) */
export function formFromRun(r: Run | undefined, presets: Presets | undefined): SweepForm {
  const form: SweepForm = {
    name: '',
    base: json({ kind: 'pretrain', preset: 'smoke' }),
    space: json({ baseLr: { loguniform: [1e-4, 1e-1] } }),
    algorithm: 'random',
    seed: 0,
    eta: 3,
    metricName: 'loss',
    goal: 'min',
    maxTrials: 6,
    maxConcurrent: 2,
  };
  if (!r) return form;
  const label = r.name ?? shortId(r.id);
  if (r.kind === 'pretrain' && r.status === 'SUCCEEDED') {
    const names = (presets?.finetune ?? []).map((p) => p.name);
    const preset = names.includes(r.preset ?? '') ? r.preset! : (names[0] ?? r.preset ?? 'smoke');
    return {
      ...form,
      name: `lr-asha of ${label}`,
      base: json({ kind: 'finetune', preset, source: { runId: r.id, checkpoint: 'latest' } }),
      algorithm: 'asha',
      metricName: 'val_top1',
      goal: 'max',
      maxTrials: 9,
      maxConcurrent: 3,
    };
  }
  const base: Record<string, unknown> = {
    kind: r.kind,
    ...(r.preset ? { preset: r.preset } : {}),
    config: r.config,
    worldSize: r.worldSize,
  };
  if (r.source?.runId) base.source = { runId: r.source.runId, checkpoint: r.source.checkpointId ?? 'latest' };
  const lr = (r.config as { baseLr?: unknown }).baseLr;
  return {
    ...form,
    name: `sweep of ${label}`,
    base: json(base),
    space: json({ baseLr: { loguniform: typeof lr === 'number' && lr > 0 ? [lr / 10, lr * 10] : [1e-4, 1e-1] } }),
    metricName: r.kind === 'finetune' ? 'val_top1' : 'loss',
    goal: r.kind === 'finetune' ? 'max' : 'min',
  };
}

/** the form as a POST /v1/sweeps body; a field that is not a JSON object is an error string */
export function sweepBody(f: SweepForm): SweepBody | string {
  const parse = (what: string, text: string): Record<string, unknown> | string => {
    try {
      const v: unknown = JSON.parse(text);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${what} must be a JSON object`;
      return v as Record<string, unknown>;
    } catch (err) {
      return `${what} is not valid JSON: ${(err as Error).message}`;
    }
  };
  const base = parse('Base run', f.base);
  if (typeof base === 'string') return base;
  const space = parse('Search space', f.space);
  if (typeof space === 'string') return space;
  const algorithm: SweepAlgorithm =
    f.algorithm === 'grid'
      ? { name: 'grid' }
      : f.algorithm === 'random'
        ? { name: 'random', seed: f.seed }
        : { name: 'asha', seed: f.seed, eta: f.eta };
  if (!f.name.trim()) return 'A sweep needs a name';
  return {
    name: f.name.trim(),
    base: base as SweepBody['base'],
    space: space as SearchSpace,
    algorithm,
    metric: { name: f.metricName.trim(), goal: f.goal },
    maxTrials: f.maxTrials,
    maxConcurrent: f.maxConcurrent,
  };
}

function Plan({ plan }: { plan: SweepPlan }) {
  const trials = plan.trials ?? [];
  const keys = [...new Set(trials.flatMap((t) => Object.keys(t.params)))];
  const est = plan.estimate;
  const extra: [string, unknown][] = [
    ['rungs (steps)', plan.rungs.length ? plan.rungs.join(', ') : '—'],
    ['steps of a whole trial', plan.totalSteps ?? '—'],
    ['steps, all trials to the end', est.steps],
    ['steps expected', est.stepsExpected],
    ['estimated time', est.seconds === null ? 'no throughput model' : `${Math.round(est.seconds)} s`],
  ];
  return (
    <div data-testid="sweep-plan">
      {plan.notes.length > 0 && (
        <ul className="muted small">
          {plan.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
      {extra.length > 0 && (
        <dl className="facts">
          {extra.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{formatValue(v)}</dd>
            </div>
          ))}
        </dl>
      )}
      <table className="table compact">
        <caption>
          The trial plan: {trials.length} trial{trials.length === 1 ? '' : 's'}
        </caption>
        <thead>
          <tr>
            <th>#</th>
            {keys.map((k) => (
              <th key={k}>{k}</th>
            ))}
            <th>stops at step</th>
          </tr>
        </thead>
        <tbody>
          {trials.map((t) => (
            <tr key={t.index}>
              <td className="num">{t.index}</td>
              {keys.map((k) => (
                <td key={k} className="num">
                  {fmtParam(t.params[k])}
                </td>
              ))}
              <td className="num">{t.stopAtStep ?? 'the end'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SweepNewPage() {
  const api = useApi();
  const qc = useQueryClient();
  const { navigate } = useRouter();
  const { params } = useSearchState();
  const fromId = params.get('from');
  const presets = useQuery({ queryKey: ['presets'], queryFn: () => api.presets(), staleTime: Infinity });
  const from = useQuery({ queryKey: ['run', fromId, 'row'], queryFn: () => api.run(fromId!), enabled: !!fromId });
  const [form, setForm] = useState<SweepForm | null>(null);
  // fill once, when the run (if any) and the presets are in
  useEffect(() => {
    if (form || !presets.data || (fromId && !from.data)) return;
    setForm(formFromRun(from.data, presets.data));
  }, [form, presets.data, from.data, fromId]);
  const [plan, setPlan] = useState<SweepPlan | null>(null);
  const [error, setError] = useState<string | null>(null);
  const preview = useMutation({
    mutationFn: (b: SweepBody) => api.validateSweep(b),
    onSuccess: (p) => {
      setPlan(p);
      setError(null);
    },
    onError: (e) => {
      setPlan(null);
      setError((e as Error).message);
    },
  });
  const submit = useMutation({
    mutationFn: (b: SweepBody) => api.submitSweep(b),
    onSuccess: (s) => {
      void qc.invalidateQueries({ queryKey: ['sweeps'] });
      navigate(`/sweeps/${s.id}`);
    },
    onError: (e) => setError((e as Error).message),
  });
  if (!form) return <main className="muted">Loading…</main>;
  const body = sweepBody(form);
  const update = (patch: Partial<SweepForm>) => {
    setForm({ ...form, ...patch });
    // the plan shown is the plan of the form as it was: an edit asks for a new preview
    setPlan(null);
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (typeof body === 'string') return setError(body);
    submit.mutate(body);
  };
  return (
    <main>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link to="/sweeps">Sweeps</Link> / new
          </p>
          <h1>New sweep</h1>
          {from.data && (
            <p className="muted">
              From run <Link to={`/runs/${from.data.id}`}>{from.data.name ?? shortId(from.data.id)}</Link> ({from.data.kind},{' '}
              {from.data.status})
            </p>
          )}
        </div>
      </div>
      <form className="form card" onSubmit={onSubmit} aria-label="New sweep">
        <label>
          Name
          <input name="name" value={form.name} onChange={(e) => update({ name: e.target.value })} />
        </label>
        <label>
          Base run (a POST /v1/runs body)
          <textarea name="base" rows={6} spellCheck={false} value={form.base} onChange={(e) => update({ base: e.target.value })} />
        </label>
        <label>
          Search space (config field → choice | uniform | loguniform | int)
          <textarea name="space" rows={5} spellCheck={false} value={form.space} onChange={(e) => update({ space: e.target.value })} />
        </label>
        <div className="inline-form">
          <label>
            Algorithm
            <select
              name="algorithm"
              value={form.algorithm}
              onChange={(e) => update({ algorithm: e.target.value as SweepForm['algorithm'] })}
            >
              <option value="grid">grid</option>
              <option value="random">random</option>
              <option value="asha">asha</option>
            </select>
          </label>
          {form.algorithm !== 'grid' && (
            <label>
              Seed
              <input name="seed" type="number" min={0} value={form.seed} onChange={(e) => update({ seed: Number(e.target.value) })} />
            </label>
          )}
          {form.algorithm === 'asha' && (
            <label>
              η
              <input
                name="eta"
                type="number"
                min={2}
                max={16}
                step="any"
                value={form.eta}
                onChange={(e) => update({ eta: Number(e.target.value) })}
              />
            </label>
          )}
          <label>
            Metric
            <input name="metric" value={form.metricName} onChange={(e) => update({ metricName: e.target.value })} />
          </label>
          <label>
            Goal
            <select name="goal" value={form.goal} onChange={(e) => update({ goal: e.target.value as 'max' | 'min' })}>
              <option value="max">max</option>
              <option value="min">min</option>
            </select>
          </label>
          <label>
            Max trials
            <input
              name="maxTrials"
              type="number"
              min={1}
              value={form.maxTrials}
              onChange={(e) => update({ maxTrials: Number(e.target.value) })}
            />
          </label>
          <label>
            At once
            <input
              name="maxConcurrent"
              type="number"
              min={1}
              value={form.maxConcurrent}
              onChange={(e) => update({ maxConcurrent: Number(e.target.value) })}
            />
          </label>
        </div>
        {error && (
          <p role="alert" className="error" data-testid="sweep-error">
            {error}
          </p>
        )}
        <div className="form-actions">
          <button
            type="button"
            disabled={preview.isPending}
            onClick={() => (typeof body === 'string' ? setError(body) : preview.mutate(body))}
          >
            {preview.isPending ? 'Checking…' : 'Preview the trial plan'}
          </button>
          <button type="submit" className="primary" disabled={submit.isPending || typeof body === 'string'}>
            {submit.isPending ? 'Starting…' : 'Start the sweep'}
          </button>
        </div>
      </form>
      {plan && (
        <section aria-label="Trial plan">
          <Plan plan={plan} />
        </section>
      )}
    </main>
  );
}
