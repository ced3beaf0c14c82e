// The fine-tuning config lives in libs/config (tfjs-free, so the API can validate runs).
export {
  defaultFinetuneConfig,
  resolveFinetuneConfig,
  deriveFinetunePlan,
  type FinetuneConfig,
  type FinetunePlan,
  type RandAugmentConfig,
} from '@cim-forge/config';
