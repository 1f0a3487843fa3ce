/** Runs a device's workload (device.workload) from a small form and shows what came back. */
import { useState, type FormEvent } from 'react';

import type { DeviceJson, WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import { DEVICE_ID } from '../../../../src/protocol/names';
import type { WorkbenchApi } from '../../engine/api';
import { Chip } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';

type Result = WorkbenchResult<'device.workload'>;

/** The workload a device type runs, if the workbench has one for it. */
export function workloadKind(deviceId: number): Result['kind'] | null {
  if (deviceId === DEVICE_ID.I2C) return 'i2c-transfer';
  if (deviceId === DEVICE_ID.RNG) return 'rng-read';
  if (deviceId === DEVICE_ID.CONSOLE) return 'console-send';
  return null;
}

function printable(hex: string): string {
  const bytes = hex.match(/../g) ?? [];
  return bytes.map((h) => {
    const c = parseInt(h, 16);
    return c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }).join('');
}

function I2cFields({ onRun, busy }: { onRun: (p: WorkbenchParams<'device.workload'>['params']) => void; busy: boolean }) {
  const [address, setAddress] = useState('0x50');
  const [tenBit, setTenBit] = useState(false);
  const [write, setWrite] = useState('00');
  const [read, setRead] = useState('4');
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

function RngFields({ onRun, busy }: { onRun: (p: { bytes: number }) => void; busy: boolean }) {
  const [bytes, setBytes] = useState('16');
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

function ConsoleFields({ onRun, busy }: { onRun: (p: { text: string; echo?: boolean }) => void; busy: boolean }) {
  const [text, setText] = useState('hello');
  const [echo, setEcho] = useState(false);
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

export function Workload({ api, device }: { api: WorkbenchApi; device: DeviceJson }) {
  const kind = workloadKind(device.deviceId);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<WorkbenchError | null>(null);
  if (!kind) return null;
  const run = async (params: unknown): Promise<void> => {
    setBusy(true);
    // The form built params for `kind`; the engine validates them again.
    const r = await api.call('device.workload', { devNum: device.devNum, kind, params } as WorkbenchParams<'device.workload'>);
    setBusy(false);
    setResult(r.ok ? r.result : null);
    setError(r.ok ? null : r.error);
  };
  return (
    <div className="workload">
      <h4>Workload: {kind}</h4>
      {kind === 'i2c-transfer' && <I2cFields onRun={(p) => void run(p)} busy={busy} />}
      {kind === 'rng-read' && <RngFields onRun={(p) => void run(p)} busy={busy} />}
      {kind === 'console-send' && <ConsoleFields onRun={(p) => void run(p)} busy={busy} />}
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
