/**
 * Every call the portal makes: fetch with the session's bearer token, JSON in and out, and the
 * API's `{statusCode, error, message}` turned into an ApiError that carries the message. `base`
 * is '' in the browser (same origin) and the test API's URL in component tests.
 */
import type {
  Checkpoint,
  Download,
  Figure,
  Presets,
  QueueEntry,
  Run,
  RunEvent,
  RunList,
  Series,
  SeriesInfo,
  SubmitBody,
  Validated,
} from '@cim-forge/client';
import type { Sweep, SweepBody, SweepList, SweepPlan } from './sweep-types.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  base: string;
  token: () => string | null;
  /** called on a 401 (the token was revoked or mistyped) */
  onUnauthorized?: () => void;
}

export interface RunListQuery {
  status?: string;
  kind?: string;
  name?: string;
  sourceRunId?: string;
  limit?: number;
  cursor?: string;
}

function qs(q: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export class Api {
  constructor(readonly o: ApiOptions) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const t = this.o.token();
    return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown, init: { signal?: AbortSignal } = {}): Promise<T> {
    const res = await fetch(`${this.o.base}${path}`, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: init.signal,
    });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: use the text
    }
    if (!res.ok) {
      if (res.status === 401) this.o.onUnauthorized?.();
      const message = (json as { message?: string } | undefined)?.message ?? (text || res.statusText);
      throw new ApiError(res.status, message);
    }
    return json as T;
  }

  runs(q: RunListQuery = {}) {
    return this.request<RunList>('GET', `/v1/runs${qs({ ...q })}`);
  }
  run(id: string) {
    return this.request<Run>('GET', `/v1/runs/${id}`);
  }
  events(id: string) {
    return this.request<{ events: RunEvent[] }>('GET', `/v1/runs/${id}/events`);
  }
  seriesList(id: string) {
    return this.request<{ series: SeriesInfo[] }>('GET', `/v1/runs/${id}/metrics`);
  }
  /** min/max per bucket: spikes kept whatever the length */
  series(id: string, name: string, o: { rank?: number | null; buckets?: number; from?: number; to?: number } = {}) {
    return this.request<Series>(
      'GET',
      `/v1/runs/${id}/metrics${qs({ name, rank: o.rank ?? undefined, buckets: o.buckets ?? 1000, reduce: 'minmax', from: o.from, to: o.to })}`,
    );
  }
  checkpoints(id: string) {
    return this.request<{ checkpoints: Checkpoint[] }>('GET', `/v1/runs/${id}/checkpoints`);
  }
  download(id: string, checkpointId: string, file?: string) {
    return this.request<Download>('GET', `/v1/runs/${id}/checkpoints/${checkpointId}/download${qs({ file })}`);
  }
  cancel(id: string) {
    return this.request<Run>('POST', `/v1/runs/${id}/cancel`);
  }
  submit(body: SubmitBody) {
    return this.request<Run>('POST', '/v1/runs', body);
  }
  validate(body: SubmitBody, signal?: AbortSignal) {
    return this.request<Validated>('POST', '/v1/runs', { ...body, validateOnly: true }, { signal });
  }
  queue() {
    return this.request<{ runs: QueueEntry[] }>('GET', '/v1/queue');
  }
  presets() {
    return this.request<Presets>('GET', '/v1/presets');
  }
  figures(id: string) {
    return this.request<{ items: Figure[] }>('GET', `/v1/runs/${id}/figures`);
  }
  sweeps(q: { limit?: number; cursor?: string; status?: string } = {}) {
    return this.request<SweepList>('GET', `/v1/sweeps${qs({ ...q })}`);
  }
  sweep(id: string) {
    return this.request<Sweep>('GET', `/v1/sweeps/${id}`);
  }
  submitSweep(body: SweepBody) {
    return this.request<Sweep>('POST', '/v1/sweeps', body);
  }
  validateSweep(body: SweepBody, signal?: AbortSignal) {
    return this.request<SweepPlan>('POST', '/v1/sweeps', { ...body, validateOnly: true }, { signal });
  }
  cancelSweep(id: string) {
    return this.request<Sweep>('POST', `/v1/sweeps/${id}/cancel`);
  }
  requestFigure(id: string, checkpoint: string, image?: string) {
    return this.request<{ id: string; status: string }>('POST', `/v1/runs/${id}/figures`, { checkpoint, ...(image ? { image } : {}) });
  }
}
