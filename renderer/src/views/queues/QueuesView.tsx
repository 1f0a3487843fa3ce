/**
 * Queues: pick a device's virtqueue; see its size and ring addresses, avail.idx, used.idx, the
 * driver's last seen used index, chains in flight, the descriptor table with chains and flags
 * (queue.inspect reads the rings as they are in memory now), and occupancy over time.
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';

import type { WorkbenchApi, WorkbenchError, WorkbenchResult } from '../../../../src/api/workbench';
import { ErrorNote } from '../../ui/ErrorNote';
import { useSession } from '../../ui/useSession';
import { DescriptorTable } from './DescriptorTable';
import { OccupancyChart } from './OccupancyChart';

import './QueuesView.css';

type Inspect = WorkbenchResult<'queue.inspect'>;

const AUTO_REFRESH_MS = 1000;

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="q-field">
      <span className="muted">{label}</span>
      <span className="mono" data-field={label}>
        {children}
      </span>
    </div>
  );
}

function RingSummary({ inspect }: { inspect: Inspect }) {
  const r = inspect.ring;
  return (
    <div className="q-summary">
      <Field label="size">{r.size}</Field>
      <Field label="descriptor table">{r.descAddr}</Field>
      <Field label="avail ring">{r.driverAddr}</Field>
      <Field label="used ring">{r.deviceAddr}</Field>
      <Field label="avail.idx">{r.avail?.idx ?? '—'}</Field>
      <Field label="avail.flags">{r.avail ? r.avail.flagNames || r.avail.flags : '—'}</Field>
      <Field label="used.idx">{r.used?.idx ?? '—'}</Field>
      <Field label="used.flags">{r.used ? r.used.flagNames || r.used.flags : '—'}</Field>
      <Field label="last seen used">{r.lastSeenUsed ?? '—'}</Field>
      <Field label="in flight">{r.inFlight ?? '—'}</Field>
      {r.avail?.used_event != null && <Field label="used_event">{r.avail.used_event}</Field>}
      {r.used?.avail_event != null && <Field label="avail_event">{r.used.avail_event}</Field>}
    </div>
  );
}

function QueueDetail({ api, devNum, queue, size }: { api: WorkbenchApi; devNum: number; queue: number; size: number }) {
  const [inspect, setInspect] = useState<Inspect | null>(null);
  const [error, setError] = useState<WorkbenchError | null>(null);
  const [auto, setAuto] = useState(false);

  const refresh = useCallback(async () => {
    const r = await api.call('queue.inspect', { devNum, queue });
    setInspect(r.ok ? r.result : null);
    setError(r.ok ? null : r.error);
  }, [api, devNum, queue]);

  useEffect(() => {
    void refresh();
    if (!auto) return undefined;
    const t = setInterval(() => void refresh(), AUTO_REFRESH_MS);
    return () => clearInterval(t);
  }, [refresh, auto]);

  return (
    <div className="q-detail">
      <div className="q-actions">
        <button onClick={() => void refresh()}>Refresh</button>
        <label>
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> auto-refresh every {AUTO_REFRESH_MS / 1000} s
        </label>
      </div>
      {error && <ErrorNote error={error} />}
      {inspect && (
        <>
          <RingSummary inspect={inspect} />
          {inspect.ring.problems.map((p, i) => (
            <ErrorNote key={i} error={`${p.code}: ${p.reason}`} />
          ))}
          <h4>
            Chains in flight <span className="muted">({inspect.ring.chains.length})</span>
          </h4>
          {inspect.ring.chains.length > 0 ? (
            <table className="grid" aria-label="Chains">
              <thead>
                <tr>
                  <th>avail slot</th>
                  <th>head</th>
                  <th>descriptors</th>
                  <th>readable</th>
                  <th>writable</th>
                  <th>problem</th>
                </tr>
              </thead>
              <tbody>
                {inspect.ring.chains.map((c) => (
                  <tr key={c.availSlot}>
                    <td className="mono">{c.availSlot}</td>
                    <td className="mono">{c.head}</td>
                    <td className="mono">{c.descriptors.join(' → ')}</td>
                    <td className="mono">{c.readableBytes}</td>
                    <td className="mono">{c.writableBytes}</td>
                    <td className="error-text">{c.problem ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">none: the device has returned every chain the driver made available</p>
          )}
          {inspect.ring.usedNotSeen.length > 0 && (
            <p className="mono">
              used, not yet collected: {inspect.ring.usedNotSeen.map((u) => `slot ${u.slot} id ${u.id} len ${u.len}`).join('; ')}
            </p>
          )}
          <h4>Descriptor table</h4>
          <DescriptorTable ring={inspect.ring} />
        </>
      )}
      <OccupancyChart api={api} devNum={devNum} queue={queue} size={size} />
    </div>
  );
}

export function QueuesView({ api }: { api: WorkbenchApi }) {
  const { state, error } = useSession(api);
  const [picked, setPicked] = useState<{ devNum: number; queue: number } | null>(null);
  if (error) return <ErrorNote error={error} />;
  if (!state) return <p className="muted">Loading…</p>;
  const queues = state.devices.flatMap((d) => d.queues.map((q) => ({ device: d, q })));
  if (!state.connected || queues.length === 0) {
    return <p className="muted">{state.connected ? 'No device has set up a virtqueue yet.' : 'No board is connected: connect one in Connect (key 1).'}</p>;
  }
  const chosen = queues.find((x) => x.device.devNum === picked?.devNum && x.q.index === picked.queue) ?? queues[0]!;
  return (
    <div className="queues-view">
      <nav className="q-list" aria-label="Virtqueues">
        {queues.map(({ device, q }) => {
          const on = device.devNum === chosen.device.devNum && q.index === chosen.q.index;
          return (
            <button key={`${device.devNum}/${q.index}`} className={on ? 'active' : undefined} aria-pressed={on} onClick={() => setPicked({ devNum: device.devNum, queue: q.index })}>
              dev {device.devNum} {device.deviceType} · {q.index} {q.name}
              <span className="muted"> size {q.size}</span>
            </button>
          );
        })}
      </nav>
      <section className="q-main" aria-label={`Queue ${chosen.q.index} of device ${chosen.device.devNum}`}>
        <h3>
          dev {chosen.device.devNum} {chosen.device.deviceName} · queue {chosen.q.index} {chosen.q.name}
        </h3>
        <p className="muted mono">
          size {chosen.q.size} of max {chosen.q.maxSize} · used events {chosen.q.usedEvents}
        </p>
        <QueueDetail key={`${chosen.device.devNum}/${chosen.q.index}`} api={api} devNum={chosen.device.devNum} queue={chosen.q.index} size={chosen.q.size} />
      </section>
    </div>
  );
}
