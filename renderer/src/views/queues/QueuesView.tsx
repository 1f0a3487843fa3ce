/**
 * Queues: pick a device's virtqueue; see its size and ring addresses, avail.idx, used.idx, the
 * driver's last seen used index, chains in flight, the chains the device returned last (under
 * load a chain is in flight for microseconds, so these are what a snapshot shows of the
 * traffic), the descriptor table with chains and flags and a descriptor's buffer bytes
 * (queue.inspect and queue.buffer read the rings as they are in memory now), refreshed every
 * second by default, and occupancy over time.
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';

import type { SessionStateJson, WorkbenchApi, WorkbenchError, WorkbenchResult } from '../../../../src/api/workbench';
import { ErrorNote } from '../../ui/ErrorNote';
import { useSession } from '../../ui/useSession';
import { hexDump } from '../devices/bytes';
import { useKept } from '../devices/viewState';
import { DescriptorTable } from './DescriptorTable';
import { OccupancyChart } from './OccupancyChart';

import './QueuesView.css';

type Inspect = WorkbenchResult<'queue.inspect'>;
type Buffer = WorkbenchResult<'queue.buffer'>;

const AUTO_REFRESH_MS = 1000;

/** Why the queues cannot be read now (null: they can): a session that ended leaves nothing to read. */
export function readBlocker(state: SessionStateJson): string | null {
  if (state.connected || state.source === 'capture') return null;
  return 'The session has ended: the rings can no longer be read. What is shown is the last snapshot; connect again to read them.';
}

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

/** A table of chains: one row of cells per chain. */
function ChainsTable({ label, head, rows }: { label: string; head: string[]; rows: { key: number; cells: ReactNode[] }[] }) {
  return (
    <table className="grid" aria-label={label}>
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            {r.cells.map((c, i) => (
              <td key={i} className="mono">
                {c}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function BufferBytes({ buffer }: { buffer: Buffer }) {
  return (
    <div className="q-buffer" data-testid="buffer-bytes">
      <h4>
        Descriptor {buffer.index} buffer{' '}
        <span className="muted mono">
          {buffer.addr} · {buffer.len} bytes{buffer.flags ? ` · ${buffer.flags}` : ''}
          {buffer.truncated ? ` · first ${buffer.bytes.length / 2} shown` : ''}
        </span>
      </h4>
      <pre className="mono hex">{buffer.bytes === '' ? <span className="muted">(no bytes)</span> : hexDump(buffer.bytes)}</pre>
    </div>
  );
}

/**
 * `still`: the rings cannot change (an opened capture), so they are read once and auto-refresh
 * is off.
 */
function QueueDetail({ api, devNum, queue, size, blocked, still }: { api: WorkbenchApi; devNum: number; queue: number; size: number; blocked: string | null; still: boolean }) {
  const [inspect, setInspect] = useKept<Inspect | null>(api, `result/queue/${devNum}/${queue}`, null);
  const [error, setError] = useState<WorkbenchError | null>(null);
  const [auto, setAuto] = useKept(api, 'queues/auto', true);
  const [all, setAll] = useKept(api, 'queues/all', false);
  const [picked, setPicked] = useState<number | null>(null);
  const [buffer, setBuffer] = useState<Buffer | null>(null);

  const refresh = useCallback(async () => {
    const r = await api.call('queue.inspect', { devNum, queue });
    if (r.ok) setInspect(r.result);
    setError(r.ok ? null : r.error);
  }, [api, devNum, queue, setInspect]);

  const showBytes = useCallback(
    async (desc: number) => {
      setPicked(desc);
      const r = await api.call('queue.buffer', { devNum, queue, desc });
      setBuffer(r.ok ? r.result : null);
      if (!r.ok) setError(r.error);
    },
    [api, devNum, queue],
  );

  const autoOff = blocked ?? (still ? 'An opened capture does not change: its rings are read once.' : null);
  useEffect(() => {
    if (blocked !== null) return undefined;
    void refresh();
    if (!auto || still) return undefined;
    const t = setInterval(() => void refresh(), AUTO_REFRESH_MS);
    return () => clearInterval(t);
  }, [refresh, auto, blocked, still]);

  const ring = inspect?.ring;
  return (
    <div className="q-detail">
      <div className="q-actions">
        <button onClick={() => void refresh()} disabled={blocked !== null} title={blocked ?? 'Read the rings now'}>
          Refresh
        </button>
        <label title={autoOff ?? undefined}>
          <input type="checkbox" checked={auto && autoOff === null} disabled={autoOff !== null} onChange={(e) => setAuto(e.target.checked)} /> auto-refresh every {AUTO_REFRESH_MS / 1000} s
        </label>
      </div>
      {blocked && <p className="muted action-reason">{blocked}</p>}
      {error && <ErrorNote error={error} />}
      {ring && (
        <>
          <RingSummary inspect={inspect} />
          {ring.problems.map((p, i) =>
            p.code === 'not-captured' ? (
              <p key={i} className="muted">
                {p.reason}
              </p>
            ) : (
              <ErrorNote key={i} error={`${p.code}: ${p.reason}`} />
            ),
          )}
          {ring.problems.some((p) => p.code === 'not-captured') ? null : (
            <>
              <h4>
                Chains in flight <span className="muted">({ring.chains.length})</span>
              </h4>
              {ring.chains.length > 0 ? (
                <ChainsTable
                  label="Chains"
                  head={['avail slot', 'head', 'descriptors', 'readable', 'writable', 'problem']}
                  rows={ring.chains.map((c) => ({
                    key: c.availSlot,
                    cells: [c.availSlot, c.head, c.descriptors.join(' → '), c.readableBytes, c.writableBytes, <span className="error-text">{c.problem ?? ''}</span>],
                  }))}
                />
              ) : (
                <p className="muted">none at this instant: the device has returned every chain the driver made available</p>
              )}
              {ring.usedNotSeen.length > 0 && (
                <p className="mono">
                  used, not yet collected: {ring.usedNotSeen.map((u) => `slot ${u.slot} id ${u.id} len ${u.len}`).join('; ')}
                </p>
              )}
              <h4>
                Returned last <span className="muted">(the newest used entries; descriptors as they are in the table now)</span>
              </h4>
              {ring.recent.length > 0 ? (
                <ChainsTable
                  label="Returned chains"
                  head={['used slot', 'id (head)', 'descriptors', 'readable', 'writable', 'used len']}
                  rows={ring.recent.map((c) => ({
                    key: c.slot,
                    cells: [c.slot, c.id, c.problem ? <span className="muted">{c.problem}</span> : c.descriptors.join(' → '), c.readableBytes, c.writableBytes, c.len],
                  }))}
                />
              ) : (
                <p className="muted">the device has not returned a chain since the queue was set up</p>
              )}
              <h4>
                Descriptor table{' '}
                <label className="muted q-all">
                  <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> show all {ring.size}
                </label>
              </h4>
              <DescriptorTable ring={ring} all={all} selected={picked} onBytes={(d) => void showBytes(d)} />
              {buffer && <BufferBytes buffer={buffer} />}
            </>
          )}
        </>
      )}
      <OccupancyChart api={api} devNum={devNum} queue={queue} size={size} />
    </div>
  );
}

export function QueuesView({ api }: { api: WorkbenchApi }) {
  const { state, error } = useSession(api);
  const [picked, setPicked] = useKept<{ devNum: number; queue: number } | null>(api, 'queues/picked', null);
  if (error) return <ErrorNote error={error} />;
  if (!state) return <p className="muted">Loading…</p>;
  const queues = state.devices.flatMap((d) => d.queues.map((q) => ({ device: d, q })));
  if (queues.length === 0) {
    return <p className="muted">{state.connected || state.devices.length > 0 ? 'No device has set up a virtqueue yet.' : 'No board is connected: connect one in Connect (key 1).'}</p>;
  }
  const blocked = readBlocker(state);
  const still = state.source === 'capture';
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
        <QueueDetail key={`${chosen.device.devNum}/${chosen.q.index}`} api={api} devNum={chosen.device.devNum} queue={chosen.q.index} size={chosen.q.size} blocked={blocked} still={still} />
      </section>
    </div>
  );
}
