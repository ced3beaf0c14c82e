/** The shell: sign-in gate, navigation, theme, and the page for the current path. */
import { useEffect, useMemo, useState } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { Api } from './api/client.ts';
import { ApiContext } from './api-context.tsx';
import { Link, Router, match, useRouter } from './routing.tsx';
import { clearToken, readToken, saveToken } from './session.ts';
import { SignInPage } from './pages/sign-in.tsx';
import { RunsPage } from './pages/runs.tsx';
import { RunPage } from './pages/run.tsx';
import { ComparePage } from './pages/compare.tsx';
import { SubmitPage } from './pages/submit.tsx';
import { QueuePage } from './pages/queue.tsx';
import { MapsPage } from './pages/maps.tsx';
import { SweepsPage } from './pages/sweeps.tsx';
import { SweepPage } from './pages/sweep.tsx';
import { SweepNewPage } from './pages/sweep-new.tsx';

type Theme = 'light' | 'dark';

function initialTheme(): Theme {
  const saved = typeof localStorage !== 'undefined' ? localStorage.getItem('cim-forge.theme') : null;
  if (saved === 'light' || saved === 'dark') return saved;
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

const NAV: { to: string; label: string; key: string }[] = [
  { to: '/runs', label: 'Runs', key: 'r' },
  { to: '/submit', label: 'Submit', key: 's' },
  { to: '/compare', label: 'Compare', key: 'c' },
  { to: '/sweeps', label: 'Sweeps', key: 'w' },
  { to: '/maps', label: 'Correlation maps', key: 'm' },
  { to: '/queue', label: 'Queue', key: 'q' },
];

function Page() {
  const { location } = useRouter();
  const p = location.path;
  if (p === '/' || p === '/runs' || p === '/signin') return <RunsPage />;
  const run = match('/runs/:id', p);
  if (run) return <RunPage id={run.id} />;
  if (p === '/sweeps') return <SweepsPage />;
  if (p === '/sweeps/new') return <SweepNewPage />;
  const sweep = match('/sweeps/:id', p);
  if (sweep) return <SweepPage id={sweep.id} />;
  if (p === '/compare') return <ComparePage />;
  if (p === '/submit') return <SubmitPage />;
  if (p === '/queue') return <QueuePage />;
  if (p === '/maps') return <MapsPage />;
  return (
    <main>
      <h1>Not found</h1>
      <p>
        No page at <code>{p}</code>. <Link to="/runs">Back to runs</Link>
      </p>
    </main>
  );
}

function Shell({ onSignOut, theme, setTheme }: { onSignOut(): void; theme: Theme; setTheme(t: Theme): void }) {
  const { location, navigate } = useRouter();
  // g then a letter jumps to a page (like GitHub's shortcuts); never while typing in a field
  useEffect(() => {
    let armed = false;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      if (armed) {
        armed = false;
        const hit = NAV.find((n) => n.key === e.key);
        if (hit) navigate(hit.to);
        return;
      }
      if (e.key === 'g') armed = true;
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [navigate]);
  const section = '/' + (location.path.split('/')[1] || 'runs');
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/runs" className="brand" aria-label="CIM Forge home">
          <img src="/favicon.svg" alt="" width={22} height={22} /> CIM Forge
        </Link>
        <nav aria-label="Pages">
          {NAV.map((n) => (
            <Link key={n.to} to={n.to} aria-current={section === n.to ? 'page' : undefined} title={`g ${n.key}`}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div className="topbar-right">
          <button
            type="button"
            className="ghost"
            onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}
            aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
          >
            {theme === 'dark' ? '☀ Light' : '☾ Dark'}
          </button>
          <button type="button" className="ghost" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <div id="main" tabIndex={-1}>
        <Page />
      </div>
    </>
  );
}

export function App({ base = '' }: { base?: string }) {
  const [token, setToken] = useState<string | null>(readToken);
  const [theme, setTheme] = useState<Theme>(initialTheme);
  // set before the children render: charts read the theme's colours while they build
  document.documentElement.dataset.theme = theme;
  useEffect(() => {
    try {
      localStorage.setItem('cim-forge.theme', theme);
    } catch {
      // private mode: the theme is not remembered
    }
  }, [theme]);
  const qc = useMemo(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry: (n, err) => n < 2 && !(err as { status?: number }).status, staleTime: 5_000, refetchOnWindowFocus: false },
        },
      }),
    [],
  );
  // the client is this App's own: unmounted, its cache goes too, or each cached query's and
  // mutation's garbage-collection timer (gcTime, 5 minutes) keeps a test process (or a page
  // that unmounts the portal) alive that long
  useEffect(() => () => qc.clear(), [qc]);
  const signOut = () => {
    clearToken();
    setToken(null);
    qc.clear();
  };
  const api = useMemo(() => new Api({ base, token: readToken, onUnauthorized: () => signOut() }), [base]);
  return (
    <ApiContext.Provider value={api}>
      <QueryClientProvider client={qc}>
        <Router>
          {token ? (
            <Shell onSignOut={signOut} theme={theme} setTheme={setTheme} />
          ) : (
            <SignInPage
              onSignedIn={(t) => {
                saveToken(t);
                setToken(t);
              }}
            />
          )}
        </Router>
      </QueryClientProvider>
    </ApiContext.Provider>
  );
}
