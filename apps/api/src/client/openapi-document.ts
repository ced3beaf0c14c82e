/**
 * The API's OpenAPI document without any running service: the app is built on inert stand-ins
 * (no route runs, nothing connects), and @fastify/swagger reads the route schemas.
 */
import { Registry } from 'prom-client';
import { buildApp, type ApiDeps } from '../app.ts';

export async function openApiDocument(): Promise<Record<string, unknown>> {
  const inert = {} as never;
  // @fastify/rate-limit's Redis store defines its Lua command when the app is built
  const redis = { defineCommand: () => undefined } as never;
  const deps: ApiDeps = {
    db: inert,
    redis,
    runsQueue: inert,
    figuresQueue: inert,
    s3: { client: inert, bucket: 'unused' },
    registry: new Registry(),
  };
  const app = await buildApp(deps);
  try {
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
