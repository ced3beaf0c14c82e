/**
 * A rank process for the namespace tests, run inside its node's namespace: for each case (Gloo with
 * an algorithm, or Redis) it joins the gang listening on `host`, all-reduces its seeded gradients
 * (randomGradients(length, seed + 17·rank + step)) `steps` times into one reused array, and writes
 * each mean to `${outPrefix}.<case>.<step>` (raw float32). Prints {event: "done"} at the end.
 * argv[2]: NetnsRankConfig as JSON.
 */
import { writeFileSync } from 'node:fs';
import { joinCollective } from '../join-collective.ts';
import type { GlooAlgorithm } from '../gloo-collective.ts';
import { bitsOf, randomGradients } from '../test-support.ts';

export interface NetnsRankCase {
  transport: 'gloo' | 'redis';
  algorithm?: GlooAlgorithm;
}

export interface NetnsRankConfig {
  redisUrl: string;
  keyPrefix: string;
  runId: string;
  rank: number;
  worldSize: number;
  host: string;
  length: number;
  seed: number;
  steps: number;
  timeoutMs: number;
  cases: NetnsRankCase[];
  outPrefix: string;
}

const c = JSON.parse(process.argv[2]) as NetnsRankConfig;
for (const [k, kase] of c.cases.entries()) {
  const collective = await joinCollective({
    redisUrls: [c.redisUrl],
    keyPrefix: c.keyPrefix,
    runId: `${c.runId}-${k}`,
    rank: c.rank,
    worldSize: c.worldSize,
    timeoutMs: c.timeoutMs,
    transport: kase.transport,
    glooHost: c.host,
    glooAlgorithm: kase.algorithm,
  });
  const out = new Float32Array(c.length);
  for (let step = 0; step < c.steps; step++) {
    await collective.allReduceMeanInto(randomGradients(c.length, c.seed + 17 * c.rank + step), out);
    writeFileSync(`${c.outPrefix}.${k}.${step}`, bitsOf(out));
  }
  await collective.close();
}
process.stdout.write(`${JSON.stringify({ event: 'done' })}\n`);
