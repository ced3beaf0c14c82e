// A data area on disk whose team swaps a file for a symlink out of the area while the store reads
// it (issue 24, LOW: the realpath → readFile race): a child process flips the name between the
// team's image and a link to a secret outside, atomically (rename over it), resting 1 ms every 16 flips.
// Every read must give the team's own bytes or a refusal, never the secret: the store opens the
// name once and checks the opened file (its /proc/self/fd path, else dev + inode), then reads
// from that handle.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { localImageStore } from './image-store.ts';

/** the flipper: the name is always there, a regular file or a symlink out of the area */
const FLIPPER = `
const fs = require('node:fs');
const [target, realCopy, secret] = process.argv.slice(1);
const parent = process.ppid;
let n = 0;
for (;;) {
  fs.symlinkSync(secret, target + '.lnk');
  fs.renameSync(target + '.lnk', target);
  fs.linkSync(realCopy, target + '.tmp');
  fs.renameSync(target + '.tmp', target);
  if (++n % 16 === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  if (n % 1024 === 0 && process.ppid !== parent) process.exit(0); // the test died: never outlive it
}`;

test(
  'a file swapped for a symlink out of the area while it is read: own bytes or a refusal, never the secret',
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cim-area-swap-'));
    try {
      const area = join(dir, 'data', 'team-b');
      await mkdir(join(area, 'flowers', 'rose'), { recursive: true });
      await mkdir(join(dir, 'outside'));
      const own = Buffer.from('the team-b image bytes');
      const secret = Buffer.from('SECRET bytes of another team');
      await writeFile(join(dir, 'outside', 'secret.png'), secret);
      await writeFile(join(area, 'own.png'), own);
      const target = join(area, 'flowers', 'rose', 'a.png');
      await writeFile(target, own);
      const store = localImageStore(join(area, 'flowers'), { area });
      assert.deepEqual(await store.list(), ['rose/a.png']);
      assert.deepEqual(Buffer.from(await store.read('rose/a.png')), own);

      const flipper = spawn(process.execPath, ['-e', FLIPPER, target, join(area, 'own.png'), join(dir, 'outside', 'secret.png')], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { PATH: process.env.PATH ?? '' },
      });
      const counts = { own: 0, refused: 0, leaked: 0, other: [] as string[] };
      try {
        // until both outcomes were seen often (the race really ran), at most 20000 reads
        for (let i = 0; i < 20_000 && (counts.own < 50 || counts.refused < 50); i++) {
          try {
            const bytes = Buffer.from(await store.read('rose/a.png'));
            if (bytes.equals(own)) counts.own++;
            else if (bytes.equals(secret)) counts.leaked++;
            else counts.other.push(`bytes ${bytes.length}`);
          } catch (e) {
            const m = (e as Error).message;
            if (m === 'image data:flowers/rose/a.png is not a file in the data area') counts.refused++;
            else counts.other.push(m);
          }
        }
      } finally {
        const gone = new Promise((r) => flipper.once('exit', r));
        flipper.kill('SIGKILL'); // a synchronous loop never runs a handler
        await gone;
      }
      console.log(`swap race: ${JSON.stringify({ ...counts, other: counts.other.length })}`);
      assert.equal(counts.leaked, 0, `${counts.leaked} reads returned the secret from outside the area`);
      assert.deepEqual(counts.other.slice(0, 5), []);
      assert.ok(counts.own >= 50 && counts.refused >= 50, `both sides of the swap were read: ${JSON.stringify(counts)}`);
      // the secret is untouched, and nothing in the area was written by the store
      assert.deepEqual(await readFile(join(dir, 'outside', 'secret.png')), secret);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
