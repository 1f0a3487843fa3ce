/**
 * Devices: per device its type, vendor and dev_num; every status bit as a named chip, set or not;
 * features offered versus negotiated by name and bit; config space decoded and as hex with its
 * generation; reset and the device's workload. Live: session.device events replace a device's
 * card as it changes.
 */
import { useState } from 'react';

import type { DeviceJson, WorkbenchError } from '../../../../src/api/workbench';
import type { WorkbenchApi } from '../../engine/api';
import { Chip } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';
import { useSession, withDevice } from '../../ui/useSession';
import { phaseTone, statusBits, statusTone } from './deviceTone';
import { Workload } from './Workload';

import './DevicesView.css';

/** Config bytes as hex rows of 16 with their offsets. */
export function hexRows(hex: string): { offset: number; bytes: string }[] {
  const bytes = hex.match(/../g) ?? [];
  const rows: { offset: number; bytes: string }[] = [];
  for (let i = 0; i < bytes.length; i += 16) rows.push({ offset: i, bytes: bytes.slice(i, i + 16).join(' ') });
  return rows;
}

function Features({ device }: { device: DeviceJson }) {
  return (
    <div>
      <h4>Features</h4>
      <p className="mono muted">
        offered {device.featuresOffered} · negotiated {device.featuresNegotiated}
      </p>
      <table className="grid features" aria-label={`Features of device ${device.devNum}`}>
        <thead>
          <tr>
            <th>Bit</th>
            <th>Feature</th>
            <th>Offered</th>
            <th>Negotiated</th>
          </tr>
        </thead>
        <tbody>
          {device.features.map((f) => (
            <tr key={f.bit} data-feature={f.name} className={f.negotiated ? 'feature-on' : 'feature-off'}>
              <td className="mono">{f.bit}</td>
              <td className="mono">{f.name}</td>
              <td>{f.offered ? '✓' : '—'}</td>
              <td className={f.negotiated && !f.offered ? 'error-text' : undefined} title={f.negotiated && !f.offered ? 'negotiated without being offered' : undefined}>
                {f.negotiated ? '✓' : '—'}
              </td>
            </tr>
          ))}
          {device.features.length === 0 && (
            <tr>
              <td colSpan={4} className="muted">
                no feature bits
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function Config({ device }: { device: DeviceJson }) {
  return (
    <div>
      <h4>Config space</h4>
      <p className="muted">
        {device.configSize ?? '?'} bytes · generation <span data-testid={`generation-${device.devNum}`}>{device.generation ?? '—'}</span>
      </p>
      {device.configFields.length > 0 && (
        <table className="grid" aria-label={`Config of device ${device.devNum}`}>
          <thead>
            <tr>
              <th>Field</th>
              <th>Offset</th>
              <th>Size</th>
              <th>Value</th>
            </tr>
          </thead>
          <tbody>
            {device.configFields.map((f) => (
              <tr key={f.name} className={f.valid === false ? 'muted' : undefined} title={f.validWhen ? `valid when ${f.validWhen}` : undefined}>
                <td className="mono">{f.name}</td>
                <td className="mono">{f.offset}</td>
                <td className="mono">{f.size}</td>
                <td className="mono">
                  {typeof f.value === 'number' ? `${f.value} (0x${f.value.toString(16)})` : f.value}
                  {f.valid === false && ' (not valid: feature not negotiated)'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <pre className="mono hex">
        {hexRows(device.config).map((r) => `${r.offset.toString(16).padStart(4, '0')}  ${r.bytes}\n`)}
        {device.config === '' && <span className="muted">(empty)</span>}
      </pre>
    </div>
  );
}

function DeviceCard({ api, device, onChanged }: { api: WorkbenchApi; device: DeviceJson; onChanged: (d: DeviceJson) => void }) {
  const [resetting, setResetting] = useState(false);
  const [error, setError] = useState<WorkbenchError | null>(null);
  const reset = async (): Promise<void> => {
    setResetting(true);
    const r = await api.call('device.reset', { devNum: device.devNum });
    setResetting(false);
    setError(r.ok ? null : r.error);
    if (r.ok) onChanged(r.result.device);
  };
  return (
    <section className="device-card" aria-label={`Device ${device.devNum}`} data-devnum={device.devNum}>
      <header>
        <h3>
          dev_num {device.devNum} · {device.deviceName}
        </h3>
        <span className="mono muted">
          type {device.deviceType} ({device.deviceId}) · vendor {device.vendorId}
          {device.uuid ? ` · uuid ${device.uuid}` : ''}
        </span>
        <Chip tone={phaseTone(device.phase)}>{device.phase}</Chip>
        <button onClick={() => void reset()} disabled={resetting} title="Reset the device (status 0) and bring it up again: renegotiates features and queues">
          {resetting ? 'Resetting…' : 'Reset & renegotiate'}
        </button>
      </header>
      <div className="status-chips" aria-label={`Status of device ${device.devNum}`}>
        <span className="mono muted">status 0x{device.status.toString(16).padStart(2, '0')}</span>{' '}
        {statusBits(device.status).map(({ name, bit, set }) => {
          const what = `${name} (0x${bit.toString(16).padStart(2, '0')}) ${set ? 'set' : 'not set'}`;
          return (
            <Chip key={name} tone={set ? statusTone(name) : 'neutral'} off={!set} title={what} label={what}>
              {name}
            </Chip>
          );
        })}
        {device.status === 0 && <span className="muted">reset (0)</span>}
      </div>
      {device.error && <ErrorNote error={device.error} tryThis={['Reset the device; if it fails again, look in Trace for the failing request.']} />}
      {device.findings.map((f) => (
        <p key={f} className="finding">
          {f}
        </p>
      ))}
      {error && <ErrorNote error={error} />}
      <div className="device-body">
        <Features device={device} />
        <Config device={device} />
      </div>
      {device.shm.length > 0 && (
        <p className="mono muted">
          shm: {device.shm.map((s) => `#${s.shmid} ${s.address} +${s.length}`).join(', ')}
        </p>
      )}
      <Workload api={api} device={device} />
    </section>
  );
}

export function DevicesView({ api }: { api: WorkbenchApi }) {
  const session = useSession(api);
  const state = session.state;
  if (session.error) return <ErrorNote error={session.error} />;
  if (!state) return <p className="muted">Loading…</p>;
  if (!state.connected && state.devices.length === 0) return <p className="muted">No board is connected: connect one in Connect (key 1).</p>;
  return (
    <div className="devices-view">
      {!state.connected && <p className="muted">The session ended; the last known state of each device:</p>}
      {state.devices.map((d) => (
        <DeviceCard key={d.devNum} api={api} device={d} onChanged={(nd) => session.set(withDevice(state, nd))} />
      ))}
    </div>
  );
}
