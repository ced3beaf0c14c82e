/** libs/config: validated pre-training and fine-tuning configs, presets and derived plans — no tfjs, no I/O. */
export * from './pretrain-config.ts';
export * from './finetune-config.ts';
export * from './eval-config.ts';
export * from './dataset-root.ts';
