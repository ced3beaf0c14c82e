/**
 * Names for the API's JSON shapes, each taken from the generated OpenAPI types (src/generated):
 * nothing here is written by hand, so a route's schema is the one place a shape is declared.
 */
import type { paths } from './generated/openapi.ts';

type Method = 'get' | 'post' | 'patch' | 'delete';
/** the JSON body of a route's response with status `S` */
export type ResponseJson<P extends keyof paths, M extends Method & keyof paths[P], S extends number = 200> =
  NonNullable<paths[P][M]> extends { responses: infer R }
    ? S extends keyof R
      ? R[S] extends { content: { 'application/json': infer J } }
        ? J
        : never
      : never
    : never;

export type Run = ResponseJson<'/v1/runs/{id}', 'get'>;
export type RunKind = Run['kind'];
export type RunStatus = Run['status'];
export type RunSource = NonNullable<Run['source']>;
export type RunList = ResponseJson<'/v1/runs', 'get'>;
export type RunEvent = ResponseJson<'/v1/runs/{id}/events', 'get'>['events'][number];
type Metrics = ResponseJson<'/v1/runs/{id}/metrics', 'get'>;
/** one metric series over a step range (GET /v1/runs/{id}/metrics?name=…) */
export type Series = Extract<Metrics, { points: unknown }>;
export type SeriesPoint = Series['points'][number];
/** one available series and its size (GET /v1/runs/{id}/metrics) */
export type SeriesInfo = Extract<Metrics, { series: unknown }>['series'][number];
export type Checkpoint = ResponseJson<'/v1/runs/{id}/checkpoints', 'get'>['checkpoints'][number];
export type Download = ResponseJson<'/v1/runs/{id}/checkpoints/{cid}/download', 'get'>;
export type QueueEntry = ResponseJson<'/v1/queue', 'get'>['runs'][number];
export type Presets = ResponseJson<'/v1/presets', 'get'>;
export type Preset = Presets[RunKind][number];
export type SubmitBody = NonNullable<paths['/v1/runs']['post']['requestBody']>['content']['application/json'];
/** POST /v1/runs with validateOnly: the resolved run, not stored */
export type Validated = Extract<ResponseJson<'/v1/runs', 'post', 200>, { valid: true }>;
export type Figure = ResponseJson<'/v1/runs/{id}/figures', 'get'>['items'][number];
/** a sweep (issue 22): its trials, rungs and best trial (GET /v1/sweeps/{id}) */
export type Sweep = ResponseJson<'/v1/sweeps/{id}', 'get'>;
export type SweepStatus = Sweep['status'];
export type SweepTrial = Sweep['trials'][number];
/** a trial's state in its sweep (pending, running, paused, promoted, stopped, completed, failed, cancelled) */
export type TrialState = SweepTrial['status'];
export type SweepList = ResponseJson<'/v1/sweeps', 'get'>;
export type SweepSummary = SweepList['sweeps'][number];
export type SubmitSweepBody = NonNullable<paths['/v1/sweeps']['post']['requestBody']>['content']['application/json'];
/** POST /v1/sweeps with validateOnly: the trial plan, the rungs and the estimated cost */
export type ValidatedSweep = ResponseJson<'/v1/sweeps', 'post', 200>;
