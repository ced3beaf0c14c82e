/** The seedable generator lives in libs/random, shared with the data loader. */
export * from '@cim-forge/random';
