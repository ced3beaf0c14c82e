/** libs/config: validated pre-training and fine-tuning configs, presets and derived plans — no tfjs, no I/O. */
export * from './pretrain-config.ts';
export * from './finetune-config.ts';
export * from './eval-config.ts';
export * from './dataset-root.ts';
export * from './schema/run-config-schema.ts';
export * from './resource-estimate.ts';
export * from './run-plan.ts';
export { DatasetSpec, datasetClassCounts, datasetImages, MAX_DATASET_IMAGES } from './schema/dataset-schema.ts';
export { PretrainConfigSchema, MAX_BATCH, MAX_EPOCHS } from './schema/pretrain-schema.ts';
export { FinetuneConfigSchema } from './schema/finetune-schema.ts';
export { EvalConfigSchema } from './schema/eval-schema.ts';
export { schemaErrorMessage, type SchemaError } from './schema/schema-parts.ts';
export * from './schema/sweep-schema.ts';
