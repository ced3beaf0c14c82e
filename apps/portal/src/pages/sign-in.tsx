/** Sign in with a team token: checked against the API, then kept in sessionStorage. */
import { useState, type FormEvent } from 'react';
import { Api, ApiError } from '../api/client.ts';
import { useApi } from '../api-context.tsx';

export function SignInPage({ onSignedIn }: { onSignedIn(token: string): void }) {
  const api = useApi();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const probe = new Api({ base: api.o.base, token: () => token.trim() });
      await probe.runs({ limit: 1 });
      onSignedIn(token.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'That token was not accepted (unknown or revoked).'
          : `Could not reach the API: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h1 id="signin-title">
          <img src="/favicon.svg" alt="" width={28} height={28} /> CIM Forge
        </h1>
        <p className="muted">Sign in with your team's API token (cimf_…). It stays in this tab only.</p>
        <label htmlFor="token">Team token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          autoFocus
          required
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="cimf_…"
        />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
