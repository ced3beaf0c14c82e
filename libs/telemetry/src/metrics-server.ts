import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { bearerMatches, METRICS_UNAUTHORIZED } from './metrics-token.ts';

export interface MetricsServerOptions {
  registry: Registry;
  /** 0 picks a free port; `port` on the result says which */
  port: number;
  /** default 0.0.0.0: Prometheus scrapes the pod IP */
  host?: string;
  /** /readyz answers 200 when this resolves true, else 503 (a throw counts as not ready) */
  ready?: () => Promise<boolean>;
  /** CIM_METRICS_TOKEN: set, /metrics answers only `Authorization: Bearer <token>` (401 otherwise); /healthz and /readyz stay open */
  token?: string;
}

export interface MetricsServer {
  /** the bound port */
  readonly port: number;
  /** stops listening and ends idle keep-alive sockets; safe to call twice */
  close(): Promise<void>;
}

/**
 * A bare node:http server for the worker and the controller: GET /metrics (text exposition),
 * /healthz (the process answers), /readyz (the caller's `ready()`). Nothing else: the worker
 * serves no other HTTP. With a `token`, /metrics (run and team ids in its labels) needs it.
 */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, ready, token } = opts;
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // generic: a registry collector's error (a database message, a host) stays in the process
      void err;
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/metrics':
        if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
          res.setHeader('www-authenticate', 'Bearer');
          return send(res, 401, 'application/json', `${JSON.stringify(METRICS_UNAUTHORIZED)}\n`);
        }
        return send(res, 200, registry.contentType, await registry.metrics());
      case '/healthz':
        return send(res, 200, 'application/json', '{"status":"ok"}\n');
      case '/readyz': {
        let ok = true;
        if (ready)
          ok = await ready().then(
            (r) => r === true,
            () => false,
          );
        return send(res, ok ? 200 : 503, 'application/json', ok ? '{"status":"ready"}\n' : '{"status":"not ready"}\n');
      }
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
