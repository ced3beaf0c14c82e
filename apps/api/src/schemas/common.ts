/** Schema building blocks shared by every route: the error body, uuids, timestamps, nullables. */
import { Type, type TSchema, type Static } from 'typebox';

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
  },
  { description: 'Every 4xx and 5xx: the HTTP status, its name, and what was wrong (naming the field)' },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** `{ 400: ErrorBody, 401: ErrorBody, … }` for a route's response map */
export function errors(...codes: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody]));
}

export const Uuid = Type.String({ format: 'uuid' });
/** ISO 8601, UTC, millisecond precision */
export const IsoTime = Type.String({ format: 'date-time' });

export function Nullable<T extends TSchema>(t: T) {
  return Type.Union([t, Type.Null()]);
}

/** A string enum that documents as `{type: string, enum: [...]}` and types as the union. */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** Any JSON object (resolved configs, metrics, event data): passed through as is. */
export const JsonObject = Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true });

/** OpenAPI security requirement of every /v1 route */
export const bearer = [{ bearerAuth: [] }];

export const RunIdParams = Type.Object({ id: Uuid });
