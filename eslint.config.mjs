// Lint: TypeScript rules plus Nx module boundaries. The maths (libs/cim) and the engine must never
// import the service's I/O (Redis, BullMQ, Prisma, S3, Fastify); the data lib never imports tfjs.
import nx from '@nx/eslint-plugin';

// libs/cim in layers, bottom to top: the building blocks (nn/ — layers, kernel style, generic
// parameter specs — and the sampler, the optimizer, safetensors I/O, the backends); the CIM head
// (head/: the model base and the correlation decoder with its own parameter specs); the backbones
// (vit/, resnet/, which never import each other); then the model factory, the classifiers, parity
// and the doors (index, config, testing) at the top. An import may only run down.
const cimTop = String.raw`^\.\./(cim-model-config|create-cim-model|cim-model|parity|index|config)\.ts$`;
function cimLayer(dir, above, extra = []) {
  const folders = above.join('|');
  return {
    files: [`libs/cim/src/${dir}/**/*.ts`],
    ignores: ['libs/cim/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: String.raw`^(\.\./)+(${folders})/`,
              message: `libs/cim/src/${dir} sits below ${above.join(', ')}: imports run down only`,
            },
            { regex: cimTop, message: `libs/cim/src/${dir} sits below the model factory and the doors: imports run down only` },
            { group: ['@cim-forge/cim', '@cim-forge/cim/*'], message: 'inside libs/cim, import the file, not a door' },
            ...extra,
          ],
        },
      ],
    },
  };
}
const cimAboveHead = ['vit', 'resnet', 'classifier', 'testing'];

const services = ['ioredis', 'redis', 'bullmq', '@prisma/*', 'prisma', '@aws-sdk/*', 'fastify', '@fastify/*', 'pg', 's3rver'];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/node_modules/**', '**/dist/**', 'scratch/**', 'runs/**', '.nx/**'] },
  {
    files: ['**/*.ts', '**/*.mjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          enforceBuildableLibDependency: false,
          depConstraints: [
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: [], bannedExternalImports: [...services, '@tensorflow/*'] },
            // the environment settings: read by apps only (libs take their values as parameters)
            { sourceTag: 'type:settings', onlyDependOnLibsWithTags: [], bannedExternalImports: [...services, '@tensorflow/*'] },
            // the typed client runs in browsers: generated from the API's document, it imports no lib
            { sourceTag: 'type:client', onlyDependOnLibsWithTags: [], bannedExternalImports: [...services, '@tensorflow/*'] },
            { sourceTag: 'type:math', onlyDependOnLibsWithTags: ['type:math', 'type:util'], bannedExternalImports: [...services] },
            {
              sourceTag: 'type:data',
              onlyDependOnLibsWithTags: ['type:data', 'type:util'],
              bannedExternalImports: [...services.filter((s) => s !== '@aws-sdk/*'), '@tensorflow/*'],
            },
            {
              sourceTag: 'type:engine',
              onlyDependOnLibsWithTags: ['type:math', 'type:data', 'type:engine', 'type:config', 'type:util'],
              bannedExternalImports: [...services],
            },
            // the collective moves bytes and never knows what a model is
            {
              sourceTag: 'type:collective',
              onlyDependOnLibsWithTags: ['type:collective'],
              bannedExternalImports: ['@tensorflow/*', 'bullmq', '@prisma/*', 'prisma', 'pg', 'fastify', '@fastify/*'],
            },
            // storage, db, queue: I/O services; they may use @aws-sdk/*, Prisma, Redis, never tfjs or the maths
            {
              sourceTag: 'type:service',
              onlyDependOnLibsWithTags: ['type:service', 'type:util'],
              bannedExternalImports: ['@tensorflow/*'],
            },
            // configs are validated by the API, which never loads tfjs
            {
              sourceTag: 'type:config',
              onlyDependOnLibsWithTags: ['type:config', 'type:math', 'type:data', 'type:util'],
              bannedExternalImports: [...services, '@tensorflow/*'],
            },
            // the API process: REST, auth, queue and database; no tfjs, no engine
            {
              sourceTag: 'type:api',
              onlyDependOnLibsWithTags: ['type:config', 'type:service', 'type:util', 'type:client', 'type:settings'],
              bannedExternalImports: ['@tensorflow/*'],
            },
            // the portal runs in a browser: no server or tfjs packages in it (its tests use the db/storage test helpers)
            {
              sourceTag: 'type:portal',
              onlyDependOnLibsWithTags: ['type:service', 'type:client'],
              bannedExternalImports: [...services.filter((s) => s !== 'ioredis'), '@tensorflow/*'],
            },
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: [
                'type:math',
                'type:data',
                'type:engine',
                'type:collective',
                'type:service',
                'type:config',
                'type:util',
                'type:client',
                'type:settings',
              ],
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // no-op defaults (a solo collective, a null sink) are deliberate
      '@typescript-eslint/no-empty-function': 'off',
    },
  },
  {
    // the typed client runs in browsers (the portal): fetch only, no Node built-ins
    files: ['libs/client/**/*.ts'],
    ignores: ['libs/client/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'http', 'https', 'crypto', 'stream', 'buffer', 'url'],
              message: 'libs/client must run in a browser: no Node built-ins',
            },
          ],
        },
      ],
    },
  },
  {
    // the README's example imports the package as a user does
    files: ['libs/client/examples/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  ...['nn', 'optim', 'io', 'backend'].map((dir) => cimLayer(dir, ['head', ...cimAboveHead])),
  // the sampler runs on the data loader's worker threads, behind the tfjs-free `config` door
  cimLayer(
    'sampler',
    ['nn', 'optim', 'io', 'backend', 'head', ...cimAboveHead],
    [{ group: ['@tensorflow/*'], message: 'the sampler is tfjs-free (the config door; data-loader threads)' }],
  ),
  cimLayer('head', cimAboveHead),
  cimLayer('vit', ['resnet', 'classifier', 'testing']),
  cimLayer('resnet', ['vit', 'classifier', 'testing']),
];
