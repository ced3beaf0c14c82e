/**
 * Helpers for driving the portal in Debian's chromium with puppeteer-core (no browser download):
 * find the executable, build the portal when its sources are newer than the build, launch.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import { processEnv, SettingsReader } from '@cim-forge/settings';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** CHROMIUM_PATH, else chromium or chromium-browser on PATH */
export function findChromium(): string {
  const fromEnv = new SettingsReader(processEnv(), 'dev').text('CHROMIUM_PATH');
  if (fromEnv) return fromEnv;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error('no chromium found: install it with scripts/ci-chromium.sh (apt-get install chromium) or set CHROMIUM_PATH');
}

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** builds apps/portal/dist unless it is newer than every source file */
export function ensurePortalBuilt(): void {
  const index = join(root, 'apps/portal/dist/index.html');
  const sources = Math.max(newest(join(root, 'apps/portal/src')), statSync(join(root, 'apps/portal/index.html')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(root, 'scripts/portal-build.mjs')], { cwd: root, stdio: 'inherit' });
}

export async function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: findChromium(),
    headless: true,
    // root in CI containers: chromium's sandbox needs user namespaces it may not have
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--window-size=1280,900'],
    defaultViewport: { width: 1280, height: 900 },
  });
}
