/** GET /v1/presets: every named config, with its description and fully resolved config. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { resolveEvalConfig, resolveFinetuneConfig, resolvePretrainConfig, type EvalConfig, type FinetuneConfig } from '@cim-forge/config';
import { JsonObject, bearer, errors } from '../schemas/common.ts';
import { presetCatalog } from '../runs/run-config.ts';

const Preset = Type.Object({ name: Type.String(), description: Type.String(), config: JsonObject });
const asJson = (c: object) => c as unknown as Record<string, unknown>;

/** computed once: presets are constants of the config lib */
function catalog() {
  return {
    pretrain: Object.entries(presetCatalog.pretrain).map(([name, p]) => ({
      name,
      description: p.description,
      config: asJson(resolvePretrainConfig(name)),
    })),
    finetune: Object.entries(presetCatalog.finetune).map(([name, p]) => ({
      name,
      description: p.description,
      config: asJson(resolveFinetuneConfig(p.config as Partial<FinetuneConfig>)),
    })),
    eval: Object.entries(presetCatalog.eval).map(([name, p]) => ({
      name,
      description: p.description,
      config: asJson(resolveEvalConfig(p.config as Partial<EvalConfig>)),
    })),
  };
}

const presetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const presets = catalog();
  app.get(
    '/presets',
    {
      schema: {
        summary: 'Named configs per run kind',
        tags: ['catalog'],
        security: bearer,
        response: {
          200: Type.Object({ pretrain: Type.Array(Preset), finetune: Type.Array(Preset), eval: Type.Array(Preset) }),
          ...errors(401),
        },
      },
    },
    async () => presets,
  );
};

export default presetRoutes;
