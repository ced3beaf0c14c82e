/** The API's JSON shapes the portal reads (apps/api/src/schemas, apps/api/README.md). */
export type RunKind = 'pretrain' | 'finetune' | 'eval';
export type RunStatus = 'QUEUED' | 'STARTING' | 'RUNNING' | 'RESTARTING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export const RUN_STATUSES: RunStatus[] = ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
export const RUN_KINDS: RunKind[] = ['pretrain', 'finetune', 'eval'];
export const TERMINAL: ReadonlySet<RunStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export interface RunSource {
  checkpointId: string;
  runId: string | null;
  step: number;
  uri: string;
}

export interface Run {
  id: string;
  teamId: string;
  kind: RunKind;
  status: RunStatus;
  name: string | null;
  preset: string | null;
  config: Record<string, unknown>;
  worldSize: number;
  priority: number;
  maxRestarts: number;
  infraRestarts: number;
  userRestarts: number;
  error: string | null;
  source: RunSource | null;
  createdAt: string;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface RunList {
  runs: Run[];
  nextCursor: string | null;
}

export interface RunEvent {
  id: number | string;
  at: string;
  type: string;
  message: string;
  data: unknown;
}

export interface SeriesPoint {
  step: number;
  value: number;
  at: string;
}

export interface Series {
  runId: string;
  name: string;
  rank: number | null;
  every: number;
  total: number;
  buckets?: number;
  points: SeriesPoint[];
}

export interface SeriesInfo {
  name: string;
  rank: number | null;
  points: number;
  firstStep: number;
  lastStep: number;
}

export interface Checkpoint {
  id: string;
  step: number;
  epoch?: number;
  status: string;
  metrics?: Record<string, unknown> | null;
  createdAt?: string;
  completedAt?: string | null;
  [k: string]: unknown;
}

export interface Download {
  url: string;
  file: string;
  sha256: string | null;
  bytes: number;
  expiresAt: string;
}

export interface QueueEntry {
  id: string;
  teamId: string;
  kind: RunKind;
  priority: number;
  position: number;
  queuedAt: string | null;
  estimatedStartAt: string;
}

export interface Preset {
  name: string;
  description: string;
  config: Record<string, unknown>;
}

export type Presets = Record<RunKind, Preset[]>;

export interface SubmitBody {
  kind: RunKind;
  name?: string;
  preset?: string;
  config?: Record<string, unknown>;
  worldSize?: number;
  priority?: number;
  maxRestarts?: number;
  source?: { runId?: string; checkpoint?: string; uri?: string };
  encoder?: 'online' | 'target';
  validateOnly?: boolean;
}

export interface Validated {
  valid: true;
  kind: RunKind;
  worldSize: number;
  config: Record<string, unknown>;
  source?: { checkpointId: string | null; runId: string | null; step: number; uri: string; encoder?: string };
  [k: string]: unknown;
}

/** 14a's contract: correlation-map figures rendered by workers */
export interface Figure {
  id: string;
  checkpointId: string;
  step: number;
  source: 'heldout' | 'upload';
  status: 'pending' | 'ready' | 'failed';
  error?: string;
  url?: string;
  createdAt: string;
}
