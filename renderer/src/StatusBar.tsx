import type { LinkState } from './engine/api';
import type { TraceActivity } from './ui/useTraceActivity';

const number = new Intl.NumberFormat('en-US');

/** `where`: what the window shows (the board and its link, an opened capture), null for nothing. */
export function StatusBar({ link, where, activity }: { link: LinkState; where: string | null; activity: TraceActivity }) {
  const tone = link.state === 'open' ? 'ok' : link.state === 'reconnecting' ? 'warn' : 'danger';
  return (
    <footer className="status-bar" aria-label="Status">
      <span className={`status-dot status-${tone}`} title={link.detail} />
      <span data-testid="status-link">{link.state === 'open' ? (where ?? 'no board connected') : link.detail}</span>
      <span className="status-sep" />
      <span data-testid="status-rate">{number.format(Math.round(activity.perSecond))} msg/s</span>
      <span data-testid="status-records">{number.format(activity.total)} records</span>
      <span data-testid="status-problems" className={activity.problems > 0 ? 'error-text' : undefined}>
        {number.format(activity.problems)} {activity.problems === 1 ? 'problem' : 'problems'}
      </span>
    </footer>
  );
}
