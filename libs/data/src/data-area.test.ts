// A data area on disk: the store never leaves it through a symlink, walks symlink loops in linear
// time, and its refusals read the same whether the target outside exists or not.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { localImageStore, notInAreaMessage } from './image-store.ts';
import { openSource } from './source-spec.ts';

let dir: string;
let area: string;
const png = (v: number) =>
  sharp({ create: { width: 4, height: 4, channels: 3, background: { r: v, g: v, b: v } } })
    .png()
    .toBuffer();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cim-area-'));
  area = join(dir, 'data', 'team-a');
  const outside = join(dir, 'outside');
  for (const d of [
    join(outside, 'secret-class'),
    join(area, 'flowers', 'rose'),
    join(area, 'flowers', 'tulip'),
    join(area, 'shared', 'daisy'),
  ])
    await mkdir(d, { recursive: true });
  await writeFile(join(outside, 'secret-class', 'x.png'), await png(9));
  await writeFile(join(area, 'flowers', 'rose', 'a.png'), await png(1));
  await writeFile(join(area, 'flowers', 'tulip', 'b.png'), await png(2));
  await writeFile(join(area, 'shared', 'daisy', 'c.png'), await png(3));
  // a class folder and a file that lead out of the area; one that stays inside; a dangling one
  await symlink(join(outside, 'secret-class'), join(area, 'flowers', 'leak'));
  await symlink(join(outside, 'secret-class', 'x.png'), join(area, 'flowers', 'rose', 'stolen.png'));
  await symlink(join(area, 'shared', 'daisy'), join(area, 'flowers', 'daisy'));
  await symlink(join(dir, 'nowhere'), join(area, 'flowers', 'dangling'));
  // roots that lead out: the file system root, /proc's view of it, a sibling area
  await symlink('/', join(area, 'escape'));
  await symlink('/proc/self/root', join(area, 'proc'));
  await symlink(outside, join(area, 'sibling'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('symlinks that lead out of the area are skipped by the walk and refused by read', async () => {
  const store = localImageStore(join(area, 'flowers'), { area });
  assert.equal(store.location, 'data:flowers');
  assert.deepEqual((await store.list()).sort(), ['daisy/c.png', 'rose/a.png', 'tulip/b.png']);
  await assert.rejects(store.read('leak/x.png'), { message: 'image data:flowers/leak/x.png is not a file in the data area' });
  await assert.rejects(store.read('rose/stolen.png'), { message: 'image data:flowers/rose/stolen.png is not a file in the data area' });
  await assert.rejects(store.read('../outside/x.png'), { message: 'image key "../outside/x.png" is not a plain relative path' });
  assert.equal((await store.read('daisy/c.png')).length > 0, true);
  const src = await openSource({ kind: 'image-folder', root: join(area, 'flowers'), area });
  assert.deepEqual(src.classNames, ['daisy', 'rose', 'tulip']);
  assert.equal(src.size, 3);
});

test('a root through /, /proc/self/root or into another area reads exactly like one that does not exist', async () => {
  const messages: string[] = [];
  for (const root of [
    'escape/etc',
    'proc/etc',
    'sibling/secret-class',
    'sibling',
    'escape',
    'missing',
    'sibling/no-such-dir',
    'flowers/rose/a.png',
  ]) {
    const store = localImageStore(join(area, root), { area });
    const err = await store.list().then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err, `${root} was listed`);
    assert.equal(err.message, notInAreaMessage(`data:${root}`));
    messages.push(err.message.replace(`data:${root}`, '<root>'));
  }
  // beyond the root as given, nothing of the machine outside the area: no absolute path, no name
  // that exists only outside, no word on whether the target exists
  assert.deepEqual(new Set(messages), new Set(['image folder <root> is not a directory in the data area']));
  for (const m of messages) {
    assert.doesNotMatch(m, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.doesNotMatch(m, /secret|x\.png|passwd|\/etc|\/proc|does not exist/);
  }
  // an absolute root outside the area is refused before the disk is touched
  assert.throws(() => localImageStore('/proc/self/root/etc', { area }), { message: notInAreaMessage('(outside the data area)') });
  assert.throws(() => localImageStore(join(area, '..', 'team-b'), { area }), { message: notInAreaMessage('(outside the data area)') });
});

test('a folder of symlink loops is listed in linear time: each real directory once', async () => {
  // 14 nested levels, each with links to itself, its parent and the top: without a visited set the
  // walk would follow 3^14 ≈ 4.8 million paths (and forever without a depth bound)
  const root = join(area, 'loops');
  let d = root;
  for (let level = 0; level < 14; level++) {
    d = join(d, `l${level}`);
    await mkdir(join(d, 'cls'), { recursive: true });
    await writeFile(join(d, 'cls', `img${level}.png`), await png(level));
    await symlink('.', join(d, 'self'));
    await symlink('..', join(d, 'up'));
    await symlink(root, join(d, 'top'));
  }
  for (const opts of [{ area }, {}]) {
    const keys = await localImageStore(root, opts).list();
    assert.equal(keys.length, 14, JSON.stringify(keys.slice(0, 20)));
    assert.equal(new Set(keys.map((k) => k.split('/').pop())).size, 14);
  }
});

test('the walk is bounded in entries and depth, with a message and no hang', async () => {
  const store = localImageStore(join(area, 'flowers'), { area, maxEntries: 3 });
  await assert.rejects(store.list(), {
    message: 'image folder data:flowers: more than the limit of directory entries; split the data set',
  });
  const deep = localImageStore(join(area, 'loops'), { area, maxDepth: 4 });
  await assert.rejects(deep.list(), { message: 'image folder data:loops: directories nested deeper than 4 levels' });
});

test("in an area, a read that fails is reported without the worker's own path", async () => {
  const store = localImageStore(join(area, 'flowers'), { area });
  // a key that names a directory: readFile fails (EISDIR) with a message naming the absolute path
  const err = await store.read('rose').then(
    () => undefined,
    (e: Error) => e,
  );
  assert.equal(err?.message, 'image data:flowers/rose cannot be read (EISDIR)');
  // outside an area (the CLI on your own machine) the system's message stays as it is
  await assert.rejects(localImageStore(join(area, 'flowers')).read('rose'), { code: 'EISDIR' });
});
