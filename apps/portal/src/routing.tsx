/**
 * A small history-API router: the path picks the page, the query string holds the page's state
 * (filters, sort, selected runs), so a URL opens the same view. The API serves index.html for
 * each of these paths (apps/api/src/routes/portal.ts PORTAL_PAGES).
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useState,
  type AnchorHTMLAttributes,
  type MouseEvent,
  type ReactNode,
} from 'react';

export interface Location {
  path: string;
  params: URLSearchParams;
}

interface RouterValue {
  location: Location;
  navigate(to: string, o?: { replace?: boolean }): void;
}

const RouterContext = createContext<RouterValue | null>(null);

function current(): Location {
  return { path: window.location.pathname, params: new URLSearchParams(window.location.search) };
}

export function Router({ children }: { children: ReactNode }) {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const onPop = () => setLocation(current());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string, o: { replace?: boolean } = {}) => {
    if (o.replace) window.history.replaceState(null, '', to);
    else window.history.pushState(null, '', to);
    setLocation(current());
    if (!o.replace) window.scrollTo?.(0, 0);
  }, []);
  return <RouterContext.Provider value={{ location, navigate }}>{children}</RouterContext.Provider>;
}

export function useRouter(): RouterValue {
  const r = useContext(RouterContext);
  if (!r) throw new Error('useRouter outside <Router>');
  return r;
}

/** the query string as state: set(k, v) replaces the URL (no history entry per keystroke) */
export function useSearchState() {
  const { location, navigate } = useRouter();
  const set = useCallback(
    (changes: Record<string, string | string[] | null | undefined>, o: { push?: boolean } = {}) => {
      const p = new URLSearchParams(window.location.search);
      for (const [k, v] of Object.entries(changes)) {
        p.delete(k);
        if (Array.isArray(v)) for (const x of v) p.append(k, x);
        else if (v !== null && v !== undefined && v !== '') p.set(k, v);
      }
      const s = p.toString();
      navigate(`${window.location.pathname}${s ? `?${s}` : ''}`, { replace: !o.push });
    },
    [navigate],
  );
  return { params: location.params, set };
}

/** matches '/runs/:id' against a path; null when it does not match */
export function match(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/').filter(Boolean);
  const b = path.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(':')) out[a[i].slice(1)] = decodeURIComponent(b[i]);
    else if (a[i] !== b[i]) return null;
  }
  return out;
}

export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const { navigate } = useRouter();
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
