/** Runs a device's workload (device.workload) from a small form and shows what came back. */
import { useState, type FormEvent, type ReactElement } from 'react';

import type { DeviceJson, WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import { WORKLOADS, type RegisteredWorkload, type WorkloadKind } from '../../../../src/devices/registry';
import type { WorkbenchApi } from '../../engine/api';
import { Chip } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';

type Result = WorkbenchResult<'device.workload'>;

/** The workload a device type runs (its descriptor's first), if the workbench has one for it. */
export function workloadFor(deviceId: number): RegisteredWorkload['workload'] | null {
  return [...WORKLOADS.values()].find((w) => w.device.id === deviceId)?.workload ?? null;
}

type ParamsOf<K extends WorkloadKind> = Extract<WorkbenchParams<'device.workload'>, { kind: K }>['params'];

/** A workload's form: it starts from the workload's defaults and builds params of its kind. */
interface FormProps<K extends WorkloadKind> {
  defaults: ParamsOf<K>;
  onRun: (params: ParamsOf<K>) => void;
  busy: boolean;
}

function printable(hex: string): string {
  const bytes = hex.match(/../g) ?? [];
  return bytes.map((h) => {
    const c = parseInt(h, 16);
    return c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }).join('');
}

function I2cFields({ defaults, onRun, busy }: FormProps<'i2c-transfer'>) {
  const [address, setAddress] = useState(`0x${defaults.address.toString(16)}`);
  const [tenBit, setTenBit] = useState(defaults.tenBit ?? false);
  const [write, setWrite] = useState(defaults.segments.map((g) => ('write' in g ? g.write : '')).find(Boolean) ?? '');
  const [read, setRead] = useState(String(defaults.segments.map((g) => ('read' in g ? g.read : 0)).find(Boolean) ?? 0));
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
      <button type="submit" disabled={busy}>
        Run transfer
      </button>
    </form>
  );
}

function RngFields({ defaults, onRun, busy }: FormProps<'rng-read'>) {
  const [bytes, setBytes] = useState(String(defaults.bytes));
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
      <button type="submit" disabled={busy}>
        Read
      </button>
    </form>
  );
}

function ConsoleFields({ defaults, onRun, busy }: FormProps<'console-send'>) {
  const [text, setText] = useState(defaults.text);
  const [echo, setEcho] = useState(defaults.echo ?? false);
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
      <button type="submit" disabled={busy || text === ''}>
        Send
      </button>
    </form>
  );
}

/** The form of each workload kind: a registered kind without one fails typecheck here. */
const WORKLOAD_FORMS: { readonly [K in WorkloadKind]: (props: FormProps<K>) => ReactElement } = {
  'i2c-transfer': I2cFields,
  'rng-read': RngFields,
  'console-send': ConsoleFields,
};

export function Workload({ api, device }: { api: WorkbenchApi; device: DeviceJson }) {
  const spec = workloadFor(device.deviceId);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<WorkbenchError | null>(null);
  if (!spec) return null;
  const { kind } = spec;
  // The form and the defaults are of the same kind (TypeScript cannot correlate the two lookups).
  const Form = WORKLOAD_FORMS[kind] as (props: FormProps<WorkloadKind>) => ReactElement;
  const defaults = spec.defaults as ParamsOf<WorkloadKind>;
  const run = async (params: unknown): Promise<void> => {
    setBusy(true);
    // The form built params for `kind`; the engine validates them.
    const r = await api.call('device.workload', { devNum: device.devNum, kind, params } as WorkbenchParams<'device.workload'>);
    setBusy(false);
    setResult(r.ok ? r.result : null);
    setError(r.ok ? null : r.error);
  };
  return (
    <div className="workload">
      <h4>Workload: {kind}</h4>
      <Form defaults={defaults} onRun={(p) => void run(p)} busy={busy} />
      {error && <ErrorNote error={error} />}
      {result && (
        <div className="workload-result" data-testid={`workload-result-${device.devNum}`}>
          <Chip tone={result.succeeded ? 'ok' : 'danger'}>{result.succeeded ? 'succeeded' : 'failed'}</Chip>{' '}
          <span className="muted">{result.latencyUs.toFixed(0)} µs</span>
          {result.error && <div className="error-text">{result.error}</div>}
          {result.reads.map((hex, i) => (
            <div key={i} className="mono">
              {hex.replace(/(..)(?!$)/g, '$1 ') || '(no bytes)'} <span className="muted">{printable(hex)}</span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
