import type { ReactNode } from 'react';
import { Link } from '../routing.tsx';
import { shortId } from '../lib/format.ts';

/** a page's stream: connecting, open, closed (nothing more to follow) or error (reconnecting) */
export type LiveState = 'connecting' | 'open' | 'closed' | 'error';

/** what the live marker says while the page follows its stream ('' when it does not) */
export function liveLabel(following: boolean, state: LiveState): string {
  if (!following) return '';
  return state === 'open' ? '● live' : state === 'connecting' ? '○ connecting' : state === 'error' ? '○ reconnecting' : '';
}

/**
 * The head of a run's or a sweep's page: crumbs back to the list, the name and short id, the status
 * badge with the live marker (and `extra` after it), the page's action buttons, and an action's error.
 */
export function PageHead(p: {
  crumb: { to: string; label: string };
  kind: string;
  title: string;
  id: string;
  badge: ReactNode;
  following: boolean;
  live: LiveState;
  extra?: ReactNode;
  actions: ReactNode;
  /** an action's failure, shown under the head */
  error?: Error | null;
}) {
  return (
    <>
      <div className="page-head">
        <div>
          <p className="crumbs">
            <Link to={p.crumb.to}>{p.crumb.label}</Link> / {p.kind}
          </p>
          <h1>
            {p.title} <code className="muted">{shortId(p.id)}</code>
          </h1>
          <p>
            {p.badge}{' '}
            <span className={`live live-${p.live}`} data-testid="live-state">
              {liveLabel(p.following, p.live)}
            </span>
            {p.extra}
          </p>
        </div>
        <div className="actions">{p.actions}</div>
      </div>
      {p.error && (
        <p role="alert" className="error">
          {p.error.message}
        </p>
      )}
    </>
  );
}
