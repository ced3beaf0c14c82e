// The images' HEALTHCHECK: GET /healthz on the port of the service this container runs (PID 1's
// entry: the API on PORT, the controller and workers on METRICS_PORT, with the apps' defaults).
// Exit 0 when it answers 200, else 1. The migration command has no server: healthy while it runs.
import { readFileSync } from 'node:fs';

const cmd = readFileSync('/proc/1/cmdline', 'utf8');
const env = process.env;
const port = /api\/src\/main\.js/.test(cmd)
  ? env.PORT || 8080
  : /controller-main\.js/.test(cmd)
    ? env.METRICS_PORT || 9465
    : /worker-main\.js/.test(cmd)
      ? env.METRICS_PORT || 9464
      : undefined;
if (port === undefined) process.exit(0);
const timer = setTimeout(() => process.exit(1), 4000);
fetch(`http://127.0.0.1:${port}/healthz`).then(
  (r) => process.exit(r.ok ? 0 : 1),
  () => process.exit(1),
);
timer.unref();
