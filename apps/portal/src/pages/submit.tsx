/**
 * Submit: a form from the presets with live validation (the API's validateOnly, a moment after
 * each change) that shows the resolved config's derived values and what the overrides changed.
 * ?clone=<run> fills it from a run (clone and edit); ?kind=finetune&from=<run> fills a fine-tune
 * of that run's latest checkpoint, so "fine-tune from this run" is two clicks.
 */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/client.ts';
import { RUN_KINDS, type Run, type RunKind, type SubmitBody, type Validated } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { useRouter, useSearchState } from '../routing.tsx';
import { diffConfigs, formatValue } from '../lib/config-diff.ts';
import { runLabel } from '../lib/format.ts';

interface Form {
  kind: RunKind;
  preset: string;
  name: string;
  worldSize: number;
  priority: number;
  maxRestarts: number;
  sourceRunId: string;
  checkpoint: string;
  encoder: 'online' | 'target';
  overrides: string;
}

const EMPTY: Form = {
  kind: 'pretrain',
  preset: '',
  name: '',
  worldSize: 1,
  priority: 0,
  maxRestarts: 3,
  sourceRunId: '',
  checkpoint: 'latest',
  encoder: 'online',
  overrides: '{}',
};

/** the form as a POST /v1/runs body; a config that is not a JSON object is an error string */
export function toBody(f: Form): SubmitBody | string {
  let config: unknown;
  try {
    config = JSON.parse(f.overrides.trim() || '{}');
  } catch (err) {
    return `Config overrides are not valid JSON: ${(err as Error).message}`;
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return 'Config overrides must be a JSON object';
  const body: SubmitBody = {
    kind: f.kind,
    ...(f.preset ? { preset: f.preset } : {}),
    ...(f.name.trim() ? { name: f.name.trim() } : {}),
    ...(Object.keys(config).length ? { config: config as Record<string, unknown> } : {}),
    worldSize: f.kind === 'pretrain' ? f.worldSize : 1,
    priority: f.priority,
    maxRestarts: f.maxRestarts,
  };
  if (f.kind !== 'pretrain') body.source = { runId: f.sourceRunId || undefined, checkpoint: f.checkpoint };
  if (f.kind === 'finetune') body.encoder = f.encoder;
  return body;
}

/** what the resolved config makes of the knobs: the values people compute by hand */
export function derivedValues(v: Validated): [string, string][] {
  const c = v.config as Record<string, unknown>;
  const out: [string, string][] = [['ranks', String(v.worldSize)]];
  if (typeof c.batchSize === 'number') out.push(['global batch', `${c.batchSize * v.worldSize} (${c.batchSize} × ${v.worldSize})`]);
  for (const k of [
    'epochs',
    'steps',
    'maxSteps',
    'lr',
    'baseLr',
    'warmupEpochs',
    'warmupSteps',
    'weightDecay',
    'model',
    'dataset',
    'imageSize',
    'checkpointEvery',
  ]) {
    if (c[k] !== undefined && typeof c[k] !== 'object') out.push([k, formatValue(c[k])]);
  }
  if (v.source) out.push(['source checkpoint', `step ${v.source.step}${v.source.encoder ? `, ${v.source.encoder} encoder` : ''}`]);
  // anything else the API derives (a resource model, a memory estimate) is shown as it comes
  for (const [k, val] of Object.entries(v))
    if (!['valid', 'kind', 'worldSize', 'config', 'source'].includes(k)) out.push([k, formatValue(val)]);
  return out;
}

export function SubmitPage() {
  const api = useApi();
  const qc = useQueryClient();
  const { navigate } = useRouter();
  const { params } = useSearchState();
  const cloneId = params.get('clone');
  const fromId = params.get('from');
  const presets = useQuery({ queryKey: ['presets'], queryFn: () => api.presets(), staleTime: Infinity });
  const [form, setForm] = useState<Form>({ ...EMPTY, kind: (params.get('kind') as RunKind) ?? 'pretrain' });
  const [filled, setFilled] = useState(false);
  const update = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));

  const clone = useQuery({ queryKey: ['run', cloneId, 'row'], queryFn: () => api.run(cloneId!), enabled: !!cloneId });
  const from = useQuery({ queryKey: ['run', fromId, 'row'], queryFn: () => api.run(fromId!), enabled: !!fromId });
  // fill once from ?clone= or ?from= (or the first preset)
  useEffect(() => {
    if (filled || !presets.data) return;
    if (cloneId) {
      if (!clone.data) return;
      const r: Run = clone.data;
      setForm({
        ...EMPTY,
        kind: r.kind,
        preset: r.preset ?? '',
        name: r.name ? `${r.name} (copy)` : '',
        worldSize: r.worldSize,
        priority: r.priority,
        maxRestarts: r.maxRestarts,
        sourceRunId: r.source?.runId ?? '',
        checkpoint: r.source?.checkpointId ?? 'latest',
        encoder: ((r.config as { encoder?: string }).encoder as 'online' | 'target') ?? 'online',
        overrides: JSON.stringify(r.config, null, 2),
      });
    } else if (fromId) {
      if (!from.data) return;
      const kind = (params.get('kind') as RunKind) ?? 'finetune';
      const names = presets.data[kind].map((p) => p.name);
      setForm({
        ...EMPTY,
        kind,
        preset: names.includes(from.data.preset ?? '') ? from.data.preset! : (names[0] ?? ''),
        name: `${kind} of ${from.data.name ?? from.data.id.slice(0, 8)}`,
        sourceRunId: from.data.id,
        checkpoint: 'latest',
      });
    } else {
      setForm((f) => ({ ...f, preset: presets.data[f.kind][0]?.name ?? '' }));
    }
    setFilled(true);
  }, [filled, presets.data, clone.data, from.data, cloneId, fromId, params]);

  const body = useMemo(() => toBody(form), [form]);
  const [validation, setValidation] = useState<{ ok: Validated | null; error: string | null; busy: boolean }>({
    ok: null,
    error: null,
    busy: false,
  });
  useEffect(() => {
    if (!filled) return;
    if (typeof body === 'string') {
      setValidation({ ok: null, error: body, busy: false });
      return;
    }
    const abort = new AbortController();
    setValidation((v) => ({ ...v, busy: true }));
    const t = setTimeout(() => {
      api
        .validate(body, abort.signal)
        .then((ok) => setValidation({ ok, error: null, busy: false }))
        .catch((err) => {
          if (!abort.signal.aborted) setValidation({ ok: null, error: err instanceof ApiError ? err.message : String(err), busy: false });
        });
    }, 350);
    return () => {
      clearTimeout(t);
      abort.abort();
    };
  }, [api, body, filled]);

  const sources = useQuery({
    queryKey: ['runs', 'sources', form.kind],
    queryFn: () => api.runs({ kind: form.kind === 'finetune' ? 'pretrain' : 'finetune', limit: 100 }),
    enabled: form.kind !== 'pretrain',
  });
  const submit = useMutation({
    mutationFn: (b: SubmitBody) => api.submit(b),
    onSuccess: (run) => {
      void qc.invalidateQueries({ queryKey: ['runs'] });
      navigate(`/runs/${run.id}`);
    },
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (typeof body !== 'string') submit.mutate(body);
  };

  const presetList = presets.data?.[form.kind] ?? [];
  const presetConfig = presetList.find((p) => p.name === form.preset)?.config;
  const changed = validation.ok && presetConfig ? diffConfigs([presetConfig, validation.ok.config]).filter((d) => d.differs) : [];
  const sourceRuns = (sources.data?.runs ?? []).filter(
    (r) => r.status === 'SUCCEEDED' || r.status === 'RUNNING' || r.id === form.sourceRunId,
  );

  return (
    <main>
      <div className="page-head">
        <h1>{cloneId ? 'Clone and edit' : 'Submit a run'}</h1>
      </div>
      <div className="two-col">
        <form className="card form" onSubmit={onSubmit} aria-label="Run">
          <fieldset>
            <legend>Kind</legend>
            <div className="segmented" role="radiogroup">
              {RUN_KINDS.map((k) => (
                <label key={k}>
                  <input
                    type="radio"
                    name="kind"
                    value={k}
                    checked={form.kind === k}
                    onChange={() => update({ kind: k, preset: presets.data?.[k][0]?.name ?? '', sourceRunId: '', overrides: '{}' })}
                  />{' '}
                  {k}
                </label>
              ))}
            </div>
          </fieldset>
          <label>
            Preset
            <select name="preset" value={form.preset} onChange={(e) => update({ preset: e.target.value })}>
              {presetList.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
          {presetList.find((p) => p.name === form.preset) && (
            <p className="muted small">{presetList.find((p) => p.name === form.preset)!.description}</p>
          )}
          <label>
            Name
            <input
              name="name"
              value={form.name}
              maxLength={200}
              onChange={(e) => update({ name: e.target.value })}
              placeholder="optional"
            />
          </label>
          {form.kind !== 'pretrain' && (
            <>
              <label>
                Source run ({form.kind === 'finetune' ? 'a pre-training' : 'a fine-tune'})
                <select name="source" value={form.sourceRunId} onChange={(e) => update({ sourceRunId: e.target.value })} required>
                  <option value="">choose…</option>
                  {sourceRuns.map((r) => (
                    <option key={r.id} value={r.id}>
                      {runLabel(r)} · {r.status}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Checkpoint
                <input
                  name="checkpoint"
                  value={form.checkpoint}
                  onChange={(e) => update({ checkpoint: e.target.value })}
                  list="checkpoint-kinds"
                />
                <datalist id="checkpoint-kinds">
                  <option value="latest" />
                  <option value="best" />
                </datalist>
              </label>
              {form.kind === 'finetune' && (
                <label>
                  Encoder
                  <select name="encoder" value={form.encoder} onChange={(e) => update({ encoder: e.target.value as 'online' | 'target' })}>
                    <option value="online">online</option>
                    <option value="target">target (EMA)</option>
                  </select>
                </label>
              )}
            </>
          )}
          <div className="row3">
            <label>
              Ranks
              <input
                name="worldSize"
                type="number"
                min={1}
                max={64}
                value={form.worldSize}
                disabled={form.kind !== 'pretrain'}
                onChange={(e) => update({ worldSize: Number(e.target.value) })}
              />
            </label>
            <label>
              Priority
              <input
                name="priority"
                type="number"
                min={-100}
                max={100}
                value={form.priority}
                onChange={(e) => update({ priority: Number(e.target.value) })}
              />
            </label>
            <label>
              Max restarts
              <input
                name="maxRestarts"
                type="number"
                min={0}
                max={20}
                value={form.maxRestarts}
                onChange={(e) => update({ maxRestarts: Number(e.target.value) })}
              />
            </label>
          </div>
          <label>
            Config overrides (JSON, over the preset)
            <textarea
              name="config"
              rows={cloneId ? 14 : 5}
              spellCheck={false}
              value={form.overrides}
              onChange={(e) => update({ overrides: e.target.value })}
            />
          </label>
          <div className="form-actions">
            <button type="submit" className="primary" disabled={!validation.ok || validation.busy || submit.isPending}>
              {submit.isPending ? 'Submitting…' : 'Submit run'}
            </button>
            <button type="button" className="ghost" onClick={() => navigate('/runs')}>
              Cancel
            </button>
          </div>
          {submit.error && (
            <p role="alert" className="error">
              {(submit.error as Error).message}
            </p>
          )}
        </form>
        <aside className="card" aria-live="polite" aria-labelledby="check-h" data-testid="validation">
          <h2 id="check-h">Check {validation.busy && <span className="muted small">checking…</span>}</h2>
          {validation.error && (
            <p className="error" role="alert" data-testid="validation-error">
              {validation.error}
            </p>
          )}
          {validation.ok && (
            <>
              <p className="ok">✓ valid</p>
              <table className="table compact" data-testid="derived">
                <caption>Derived values</caption>
                <tbody>
                  {derivedValues(validation.ok).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{k}</th>
                      <td>{v}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {changed.length > 0 && (
                <table className="table compact">
                  <caption>Changed from the preset</caption>
                  <tbody>
                    {changed.map((d) => (
                      <tr key={d.key}>
                        <th scope="row">{d.key}</th>
                        <td>
                          <s className="muted">{formatValue(d.values[0])}</s> → {formatValue(d.values[1])}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )}
        </aside>
      </div>
    </main>
  );
}
