/** libs/engine: the CIM training engine — one loop for the CLI and the worker. */
export * from './trainer.ts';
export * from './checkpoint.ts';
export * from './checkpoint-store.ts';
export * from './metrics-sink.ts';
export * from './collective.ts';
export * from './gradient-all-reduce.ts';
export * from './evaluate.ts';
export * from './centre-prior.ts';
export * from './batch-tensors.ts';
export * from './pretrain.ts';
export * from './run-scaffold.ts';
export * from './retention.ts';
export { cimSample, cimSampleModule } from './cim-sample.ts';
export { tinyConfig, tinyResNetConfig, syntheticBatches } from './testing.ts';
export * from './finetune/index.ts';
export * from './robustness/index.ts';
export * from './loss-summary.ts';
export * from './correlation-figure.ts';
