/**
 * Component tests render the portal's React components in jsdom (a DOM in Node; no layout or
 * canvas, so charts are left to the browser tests) and let them talk to a real API process.
 * `installDom(url)` puts jsdom's window on globalThis (before react-dom is first loaded, which
 * checks for a DOM once); `render()` mounts (React renders asynchronously, as in a browser);
 * `waitFor()` polls the DOM until a condition holds.
 */
import { JSDOM } from 'jsdom';
import { createElement, type ReactElement } from 'react';
import type { Root } from 'react-dom/client';

export interface Dom {
  window: JSDOM['window'];
  close(): void;
}

const GLOBALS = [
  'window',
  'document',
  'navigator',
  'location',
  'history',
  'sessionStorage',
  'localStorage',
  'HTMLElement',
  'HTMLInputElement',
  'HTMLSelectElement',
  'HTMLTextAreaElement',
  'HTMLButtonElement',
  'Node',
  'Event',
  'CustomEvent',
  'KeyboardEvent',
  'MouseEvent',
  'getComputedStyle',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'devicePixelRatio',
  'matchMedia',
];

export function installDom(url: string): Dom {
  const dom = new JSDOM('<!doctype html><html><body><div id="root"></div></body></html>', { url, pretendToBeVisual: true });
  // jsdom has no media queries (uPlot watches the pixel ratio with one): nothing ever matches
  (dom.window as unknown as { matchMedia: unknown }).matchMedia = () => ({
    matches: false,
    addEventListener() {},
    removeEventListener() {},
    addListener() {},
    removeListener() {},
  });
  // no layout in jsdom: scrolling is a no-op (jsdom would log "not implemented")
  (dom.window as unknown as { scrollTo: unknown }).scrollTo = () => {};
  const g = globalThis as Record<string, unknown>;
  const saved = new Map<string, PropertyDescriptor | undefined>();
  for (const k of GLOBALS) {
    saved.set(k, Object.getOwnPropertyDescriptor(g, k));
    const v = (dom.window as unknown as Record<string, unknown>)[k];
    Object.defineProperty(g, k, {
      value: typeof v === 'function' && /^[a-z]/.test(k) ? (v as (...a: unknown[]) => unknown).bind(dom.window) : v,
      configurable: true,
      writable: true,
    });
  }
  return {
    window: dom.window,
    close() {
      for (const [k, d] of saved) {
        if (d) Object.defineProperty(g, k, d);
        else delete g[k];
      }
      dom.window.close();
    },
  };
}

export async function render(el: ReactElement): Promise<{ root: Root; container: HTMLElement; unmount(): Promise<void> }> {
  // react-dom decides at load whether it runs in a browser: load it only once the DOM is in place
  const { createRoot } = await import('react-dom/client');
  const container = document.getElementById('root')!;
  const root = createRoot(container);
  root.render(el);
  await tick();
  return {
    root,
    container,
    unmount: async () => {
      root.unmount();
      await tick();
    },
  };
}

export { createElement as h };

/** lets React's scheduler and pending fetches run (React renders asynchronously, as in a browser) */
function tick(ms = 10): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** polls until `check` returns a truthy value (letting React and fetches progress), or throws with `what` */
export async function waitFor<T>(what: string, check: () => T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the page says: ${document.body.textContent?.slice(0, 600)}`);
    await tick(50);
  }
}

/** sets a form control's value the way a user's typing does (React listens to input/change events) */
export async function setValue(el: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, value: string): Promise<void> {
  const proto =
    el instanceof window.HTMLTextAreaElement
      ? window.HTMLTextAreaElement.prototype
      : el instanceof window.HTMLSelectElement
        ? window.HTMLSelectElement.prototype
        : window.HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value);
  el.dispatchEvent(new window.Event(el instanceof window.HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
  await tick();
}

export async function click(el: Element): Promise<void> {
  (el as HTMLElement).click();
  await tick();
}
