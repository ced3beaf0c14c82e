/**
 * One error format for every failure: `{ statusCode, error, message }`. Validation messages name
 * the field ("body/worldSize must be <= 64"); unknown routes are a JSON 404; a 5xx never leaks
 * internals (it is logged with the request id instead).
 */
import { STATUS_CODES } from 'node:http';
import fp from 'fastify-plugin';
import type { FastifyError, FastifySchemaValidationError } from 'fastify';
import { schemaErrorMessage, type SchemaError } from '@cim-forge/config';
import { HttpError, TooManyRequests } from '../http-error.ts';

/** the body limit, bytes (Fastify's bodyLimit) */
export const BODY_LIMIT = 1024 * 1024;

/**
 * TypeBox reports every failing keyword; the client gets the one that says most (the config lib's
 * `schemaErrorMessage`: an unknown property first, named, else the first specific error).
 */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const message = schemaErrorMessage(errors as unknown as SchemaError[], dataVar);
  return Object.assign(new Error(message), { validation: errors, validationContext: dataVar, statusCode: 400 });
}

function body(statusCode: number, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
      if (err instanceof TooManyRequests) reply.header('retry-after', String(err.retryAfterSeconds));
      if (err instanceof HttpError) {
        if (err.statusCode >= 500) {
          // the body is generic; what happened underneath is logged here, under the request id
          request.log.error({ err, cause: err.cause }, 'request failed');
          return reply.status(err.statusCode).send({ ...err.toBody(), message: `${err.message} (request ${request.id})` });
        }
        return reply.status(err.statusCode).send(err.toBody());
      }
      const status = err.statusCode ?? 500;
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reply
          .status(413)
          .send(body(413, `request body is larger than the ${request.routeOptions.bodyLimit ?? BODY_LIMIT}-byte limit`));
      }
      if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
        return reply.status(400).send(body(400, `body is not valid JSON: ${err.message}`));
      }
      if (status >= 400 && status < 500) return reply.status(status).send(body(status, err.message));
      request.log.error({ err }, 'request failed');
      const code = status >= 500 && status < 600 ? status : 500;
      return reply.status(code).send(body(code, `internal error (request ${request.id})`));
    });

    app.setNotFoundHandler((request, reply) => {
      reply.status(404).send(body(404, `no route ${request.method} ${request.url.split('?')[0]}`));
    });
  },
  { name: 'error-handler', fastify: '5.x' },
);
