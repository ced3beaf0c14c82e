// The pre-training config lives in libs/config (tfjs-free, so the API can validate runs).
export * from '@cim-forge/config';
