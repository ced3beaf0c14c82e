import type { Counter, Histogram, Registry } from 'prom-client';
import { catalogue } from './catalogue.ts';
import { counterOf, histogramOf } from './registry.ts';

export type HttpDurationHistogram = Histogram<'method' | 'route' | 'status_code'>;

/**
 * `cim_http_request_duration_seconds` on this registry: the one already registered (by a Fastify
 * hook, say) or a new one. Observe with the route *template* (`/v1/runs/:id`), never the raw URL.
 */
export function httpDurationHistogram(registry: Registry): HttpDurationHistogram {
  return histogramOf(registry, catalogue.httpRequestDuration);
}

export interface ApiMetrics {
  httpDuration: HttpDurationHistogram;
  runsSubmitted: Counter<'kind'>;
}

export function apiMetrics(registry: Registry): ApiMetrics {
  return {
    httpDuration: httpDurationHistogram(registry),
    runsSubmitted: counterOf(registry, catalogue.runsSubmitted),
  };
}
