/**
 * The sweep routes' JSON shapes, from @cim-forge/client's generated types (GET /v1/sweeps[/:id],
 * POST /v1/sweeps and its validateOnly plan), narrowed where the API types a field as a plain JSON
 * object (space, algorithm), with the contract's shapes from libs/config's sweep schema.
 */
import type {
  Sweep as ApiSweep,
  SweepList,
  SweepStatus,
  SweepSummary,
  SweepTrial,
  SubmitSweepBody,
  TrialState,
  ValidatedSweep,
} from '@cim-forge/client';

export type { SweepList, SweepStatus, SweepSummary, SweepTrial, TrialState };

export type ParamValue = SweepTrial['params'][string];
/** one config field's domain */
export type SearchDomain =
  | { choice: ParamValue[] }
  | { uniform: [number, number]; grid?: number }
  | { loguniform: [number, number]; grid?: number }
  | { int: [number, number] };
export type SearchSpace = Record<string, SearchDomain>;
export type SweepAlgorithm =
  | { name: 'grid' }
  | { name: 'random'; seed?: number }
  | { name: 'asha'; seed?: number; eta?: number; budgetUnit?: 'steps' | 'epochs'; gracePeriod?: number; maxBudget?: number };
export type SweepMetric = ApiSweep['metric'];

export type Sweep = Omit<ApiSweep, 'space' | 'algorithm'> & { space: SearchSpace; algorithm: SweepAlgorithm };
export type SweepBody = SubmitSweepBody;
export type SweepPlan = ValidatedSweep;
