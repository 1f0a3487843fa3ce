import type { LinkState } from './engine/api';
import type { TraceActivity } from './ui/useTraceActivity';

const number = new Intl.NumberFormat('en-US');

export function StatusBar({ link, sessionLink, activity }: { link: LinkState; sessionLink: string | null; activity: TraceActivity }) {
  const tone = link.state === 'open' ? 'ok' : link.state === 'reconnecting' ? 'warn' : 'danger';
  return (
    <footer className="status-bar" aria-label="Status">
      <span className={`status-dot status-${tone}`} title={link.detail} />
      <span data-testid="status-link">{link.state === 'open' ? (sessionLink ?? 'no board connected') : link.detail}</span>
      <span className="status-sep" />
      <span data-testid="status-rate">{number.format(Math.round(activity.perSecond))} msg/s</span>
      <span data-testid="status-records">{number.format(activity.total)} records</span>
      <span data-testid="status-problems" className={activity.problems > 0 ? 'error-text' : undefined}>
        {number.format(activity.problems)} {activity.problems === 1 ? 'problem' : 'problems'}
      </span>
    </footer>
  );
}
