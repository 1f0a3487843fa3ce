/**
 * Runs a device's workload from a small form: once (device.workload, with what came back), a
 * given number of times or continuously until stopped (device.load, with live progress and
 * latency from device.load events, as `exercise --count` reports it). Form fields, the last
 * result and the load live in viewState, so they survive a switch to another view.
 */
import { useState, type FormEvent, type ReactElement } from 'react';

import type { DeviceJson, LoadProgress, WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import { WORKLOADS, type RegisteredWorkload, type WorkloadKind } from '../../../../src/devices/registry';
import { formatNs } from '../../../../src/trace/stats';
import type { WorkbenchApi } from '../../engine/api';
import { Chip } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';
import { printable, spacedHex } from './bytes';
import { useKept, useLoad } from './viewState';

type Result = WorkbenchResult<'device.workload'>;

/** The workload a device type runs (its descriptor's first), if the workbench has one for it. */
export function workloadFor(deviceId: number): RegisteredWorkload['workload'] | null {
  return [...WORKLOADS.values()].find((w) => w.device.id === deviceId)?.workload ?? null;
}

type ParamsOf<K extends WorkloadKind> = Extract<WorkbenchParams<'device.workload'>, { kind: K }>['params'];

/** A form field's value kept across view switches, under the form's own name. */
type Kept = <T>(name: string, initial: T) => [T, (v: T) => void];

/** A workload's form: it starts from the workload's defaults and builds params of its kind. */
interface FormProps<K extends WorkloadKind> {
  defaults: ParamsOf<K>;
  onRun: (params: ParamsOf<K>) => void;
  /** Why the run button is disabled (a run in progress, a read-only session); null: enabled. */
  disabled: string | null;
  /** The run button's text for a repeated or continuous run; null: the form's own. */
  action: string | null;
  kept: Kept;
}

function RunButton({ label, disabled }: { label: string; disabled: string | null }) {
  return (
    <button type="submit" disabled={disabled !== null} title={disabled ?? undefined}>
      {label}
    </button>
  );
}

function I2cFields({ defaults, onRun, disabled, action, kept }: FormProps<'i2c-transfer'>) {
  const [address, setAddress] = kept('address', `0x${defaults.address.toString(16)}`);
  const [tenBit, setTenBit] = kept('tenBit', defaults.tenBit ?? false);
  const [write, setWrite] = kept('write', defaults.segments.map((g) => ('write' in g ? g.write : '')).find(Boolean) ?? '');
  const [read, setRead] = kept('read', String(defaults.segments.map((g) => ('read' in g ? g.read : 0)).find(Boolean) ?? 0));
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const segments: ({ write: string } | { read: number })[] = [];
    if (write.trim()) segments.push({ write });
    if (Number(read) > 0) segments.push({ read: Number(read) });
    onRun({ address: Number(address), ...(tenBit ? { tenBit } : {}), segments });
  };
  return (
    <form onSubmit={submit} className="workload-form">
      <label>
        Address <input value={address} onChange={(e) => setAddress(e.target.value)} size={6} aria-label="I2C address" />
      </label>
      <label>
        <input type="checkbox" checked={tenBit} onChange={(e) => setTenBit(e.target.checked)} /> 10-bit
      </label>
      <label>
        Write <input value={write} onChange={(e) => setWrite(e.target.value)} placeholder="hex bytes" size={16} aria-label="Bytes to write" />
      </label>
      <label>
        Read <input type="number" min={0} max={4096} value={read} onChange={(e) => setRead(e.target.value)} aria-label="Bytes to read" /> bytes
      </label>
      <RunButton label={action ?? 'Run transfer'} disabled={disabled} />
    </form>
  );
}

function RngFields({ defaults, onRun, disabled, action, kept }: FormProps<'rng-read'>) {
  const [bytes, setBytes] = kept('bytes', String(defaults.bytes));
  return (
    <form
      className="workload-form"
      onSubmit={(e) => {
        e.preventDefault();
        onRun({ bytes: Number(bytes) });
      }}
    >
      <label>
        Read <input type="number" min={1} max={4096} value={bytes} onChange={(e) => setBytes(e.target.value)} aria-label="Random bytes" /> random bytes
      </label>
      <RunButton label={action ?? 'Read'} disabled={disabled} />
    </form>
  );
}

function ConsoleFields({ defaults, onRun, disabled, action, kept }: FormProps<'console-send'>) {
  const [text, setText] = kept('text', defaults.text);
  const [echo, setEcho] = kept('echo', defaults.echo ?? false);
  return (
    <form
      className="workload-form"
      onSubmit={(e) => {
        e.preventDefault();
        onRun(echo ? { text, echo } : { text });
      }}
    >
      <label>
        Send <input value={text} onChange={(e) => setText(e.target.value)} aria-label="Console text" />
      </label>
      <label>
        <input type="checkbox" checked={echo} onChange={(e) => setEcho(e.target.checked)} /> expect echo
      </label>
      <RunButton label={action ?? 'Send'} disabled={disabled ?? (text === '' ? 'Type the text to send first.' : null)} />
    </form>
  );
}

/** The form of each workload kind: a registered kind without one fails typecheck here. */
const WORKLOAD_FORMS: { readonly [K in WorkloadKind]: (props: FormProps<K>) => ReactElement } = {
  'i2c-transfer': I2cFields,
  'rng-read': RngFields,
  'console-send': ConsoleFields,
};

export const RUN_MODES = ['once', 'repeat', 'continuous'] as const;
type RunMode = (typeof RUN_MODES)[number];
const MODE_LABELS: Record<RunMode, string> = { once: 'once', repeat: 'repeat', continuous: 'continuously' };

/** Latencies as a line over the load's latest operations, scaled to their own range. */
export function Sparkline({ values, width = 240, height = 36 }: { values: readonly number[]; width?: number; height?: number }) {
  if (values.length < 2) return null;
  const top = Math.max(...values);
  const bottom = Math.min(...values);
  const span = top - bottom || 1;
  const points = values.map((v, i) => `${((i / (values.length - 1)) * width).toFixed(1)},${(height - 2 - ((v - bottom) / span) * (height - 4)).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={width} height={height} role="img" aria-label={`latency of the last ${values.length} operations, ${formatNs(bottom * 1000)} to ${formatNs(top * 1000)}`}>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth={1.5} />
    </svg>
  );
}

const us = (v: number): string => formatNs(v * 1000);

/** A load as it goes: operations, failures, rate, live latency, the first failures, how it ended. */
export function LoadPanel({ load }: { load: LoadProgress }) {
  const rate = load.elapsedMs > 0 ? (load.done / load.elapsedMs) * 1000 : 0;
  const state = load.running ? 'running' : load.stopped !== null ? 'stopped' : 'finished';
  const l = load.latencyUs;
  return (
    <div className="load-panel" data-testid={`load-${load.devNum}`} aria-live="polite">
      <div>
        <Chip tone={load.running ? 'accent' : load.failed > 0 ? 'danger' : 'ok'}>{state}</Chip>{' '}
        <span data-field="operations">
          {load.done.toLocaleString('en')}
          {load.count !== null ? ` of ${load.count.toLocaleString('en')}` : ''} operations
        </span>
        {' · '}
        <span data-field="failed" className={load.failed > 0 ? 'error-text' : undefined}>
          {load.failed.toLocaleString('en')} failed
        </span>
        {' · '}
        <span className="muted">
          {rate.toFixed(rate < 10 ? 1 : 0)} op/s over {formatNs(load.elapsedMs * 1e6)}
        </span>
      </div>
      {l ? (
        <div className="load-latency mono" data-field="latency">
          last {us(l.last)} · p50 {us(l.p50)} · p99 {us(l.p99)} · max {us(l.max)} · mean {us(l.mean)}{' '}
          <span className="muted">(over the last {l.samples.toLocaleString('en')} that succeeded)</span>
        </div>
      ) : (
        <div className="muted">no operation has succeeded yet</div>
      )}
      <Sparkline values={load.recentUs} />
      {load.errors.map((e) => (
        <div key={e} className="error-text">
          {e}
        </div>
      ))}
      {load.stopped && <div className="muted">Stopped: {load.stopped}</div>}
    </div>
  );
}

export function Workload({ api, device, blocked }: { api: WorkbenchApi; device: DeviceJson; blocked: string | null }) {
  const spec = workloadFor(device.deviceId);
  const { devNum } = device;
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useKept<Result | null>(api, `result/${devNum}/last`, null);
  const [error, setError] = useKept<WorkbenchError | null>(api, `result/${devNum}/error`, null);
  const [mode, setMode] = useKept<RunMode>(api, `form/${devNum}/mode`, 'once');
  const [repeat, setRepeat] = useKept(api, `form/${devNum}/repeat`, '100');
  const [load, setLoad] = useLoad(api, devNum);
  const kind = spec?.kind;
  const kept: Kept = (name, initial) => useKept(api, `form/${devNum}/${kind}/${name}`, initial);
  if (!spec || !kind) return null;
  // The form and the defaults are of the same kind (TypeScript cannot correlate the two lookups).
  const Form = WORKLOAD_FORMS[kind] as (props: FormProps<WorkloadKind>) => ReactElement;
  const defaults = spec.defaults as ParamsOf<WorkloadKind>;
  const running = load?.running ?? false;
  const count = Number(repeat);
  const badCount = mode === 'repeat' && !(Number.isInteger(count) && count >= 1) ? 'The repeat count must be a whole number of at least 1.' : null;

  const run = async (params: unknown): Promise<void> => {
    setBusy(true);
    setError(null);
    if (mode === 'once') {
      // The form built params for `kind`; the engine validates them.
      const r = await api.call('device.workload', { devNum, kind, params } as WorkbenchParams<'device.workload'>);
      setResult(r.ok ? r.result : null);
      setError(r.ok ? null : r.error);
    } else {
      const r = await api.call('device.load', { devNum, kind, params, count: mode === 'repeat' ? count : null } as WorkbenchParams<'device.load'>);
      // Events may have reported it already; the answer is its start.
      if (r.ok) setLoad(r.result);
      else setError(r.error);
    }
    setBusy(false);
  };
  const stop = async (): Promise<void> => {
    const r = await api.call('device.stopLoad', { devNum });
    if (r.ok) setLoad(r.result);
    else setError(r.error);
  };
  const disabled = blocked ?? (running ? 'A load is running on this device: stop it first.' : busy ? 'Running…' : badCount);
  const action = mode === 'once' ? null : mode === 'repeat' ? `Run ${Number.isFinite(count) ? count : '?'}×` : 'Start';

  return (
    <div className="workload">
      <h4>Workload: {kind}</h4>
      <div className="run-mode" role="radiogroup" aria-label={`How often to run ${kind}`}>
        Run{' '}
        {RUN_MODES.map((m) => (
          <label key={m}>
            <input type="radio" name={`mode-${devNum}`} checked={mode === m} onChange={() => setMode(m)} disabled={running} /> {MODE_LABELS[m]}
          </label>
        ))}
        {mode === 'repeat' && (
          <label>
            <input type="number" min={1} value={repeat} onChange={(e) => setRepeat(e.target.value)} aria-label="Repeat count" disabled={running} /> times
          </label>
        )}
        {running && (
          <button onClick={() => void stop()} disabled={blocked !== null} title={blocked ?? 'Stop after the operation in progress'}>
            Stop
          </button>
        )}
      </div>
      <Form defaults={defaults} onRun={(p) => void run(p)} disabled={disabled} action={action} kept={kept} />
      {blocked && <p className="muted action-reason">{blocked}</p>}
      {error && <ErrorNote error={error} />}
      {load && <LoadPanel load={load} />}
      {result && (
        <div className="workload-result" data-testid={`workload-result-${devNum}`}>
          <Chip tone={result.succeeded ? 'ok' : 'danger'}>{result.succeeded ? 'succeeded' : 'failed'}</Chip> <span className="muted">{us(result.latencyUs)}</span>
          {result.error && <div className="error-text">{result.error}</div>}
          {result.reads.map((hex, i) => (
            <div key={i} className="mono">
              {spacedHex(hex) || '(no bytes)'} <span className="muted">{printable(hex)}</span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
