/**
 * Devices: per device its type, vendor and dev_num; the status in hex with every status bit as a
 * named chip, set or not; features offered versus negotiated by name and bit; config space
 * decoded and as hex with its generation; reset, the device's workload (once, repeated or
 * continuous with live latency) and, for a console, a terminal. Live: session.device events
 * replace a device's card as it changes. Controls that cannot work now (an opened capture, a
 * monitor, a lost session, a read-only viewer) are disabled and say why.
 */
import { useState } from 'react';

import type { DeviceJson, WorkbenchError } from '../../../../src/api/workbench';
import { DEVICE_ID } from '../../../../src/protocol/names';
import type { WorkbenchApi } from '../../engine/api';
import { Chip } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';
import { useSession, withDevice } from '../../ui/useSession';
import { hexDump } from './bytes';
import { ConsoleTerminal } from './ConsoleTerminal';
import { phaseTone, statusBits, statusTone } from './deviceTone';
import { useActionBlocker } from './useActionable';
import { Workload } from './Workload';

import './DevicesView.css';

/**
 * A 64-bit feature word ("0x100000001") as the protocol carries it, two 32-bit words, each
 * zero-padded: "0x00000001 00000001" (bits 63..32, then 31..0).
 */
export function featureWords(hex: string): string {
  const digits = hex.replace(/^0x/, '').padStart(16, '0');
  return digits.length > 16 ? hex : `0x${digits.slice(0, 8)} ${digits.slice(8)}`;
}

/** A status byte in hex with the names of its set bits: "0x0f ACKNOWLEDGE | DRIVER | …". */
export function statusText(status: number, names: readonly string[]): string {
  return `0x${status.toString(16).padStart(2, '0')}${names.length > 0 ? ` ${names.join(' | ')}` : ' (reset)'}`;
}

/**
 * The device's type as the header names it. A device still probing has not answered
 * GET_DEVICE_INFO: its id 0 is "not known yet", not the protocol's reserved (invalid) id 0.
 */
export function typeName(device: DeviceJson): string {
  return device.deviceId === 0 && device.phase === 'probing' ? 'identifying…' : device.deviceName;
}

/** A config field's value: a number in decimal and hex padded to the field's size. */
function configValue(value: number | string, size: number): string {
  return typeof value === 'number' ? `${value} (0x${value.toString(16).padStart(size * 2, '0')})` : value;
}

function Features({ device }: { device: DeviceJson }) {
  return (
    <div>
      <h4>Features</h4>
      <p className="mono muted" title="bits 63..32, then bits 31..0">
        offered <span data-field="offered">{featureWords(device.featuresOffered)}</span> · negotiated <span data-field="negotiated">{featureWords(device.featuresNegotiated)}</span>
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
        <span data-testid={`config-size-${device.devNum}`}>
          {device.configSize !== null ? `${device.configSize} bytes` : `${device.config.length / 2} bytes read; the device does not report its config size (revision 0 has no such field)`}
        </span>{' '}
        · generation <span data-testid={`generation-${device.devNum}`}>{device.generation ?? '—'}</span>
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
                  {configValue(f.value, f.size)}
                  {f.valid === false && ' (not valid: feature not negotiated)'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <pre className="mono hex">
        {hexDump(device.config)}
        {device.config === '' && <span className="muted">(empty)</span>}
      </pre>
    </div>
  );
}

function DeviceCard({ api, device, blocked, onChanged }: { api: WorkbenchApi; device: DeviceJson; blocked: string | null; onChanged: (d: DeviceJson) => void }) {
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
          dev_num {device.devNum} · {typeName(device)}
        </h3>
        {!(device.deviceId === 0 && device.phase === 'probing') && (
          <span className="mono muted">
            type {device.deviceType} ({device.deviceId}) · vendor {device.vendorId}
            {device.uuid ? ` · uuid ${device.uuid}` : ''}
          </span>
        )}
        <Chip tone={phaseTone(device.phase)}>{device.phase}</Chip>
        <button onClick={() => void reset()} disabled={resetting || blocked !== null} title={blocked ?? 'Reset the device (status 0) and bring it up again: renegotiates features and queues'}>
          {resetting ? 'Resetting…' : 'Reset & renegotiate'}
        </button>
      </header>
      <div className="status-chips" aria-label={`Status of device ${device.devNum}`}>
        <span className="mono muted" data-field="status">
          status {statusText(device.status, device.statusNames)}
        </span>{' '}
        {statusBits(device.status).map(({ name, bit, set }) => {
          const what = `${name} (0x${bit.toString(16).padStart(2, '0')}) ${set ? 'set' : 'not set'}`;
          return (
            <Chip key={name} tone={set ? statusTone(name) : 'neutral'} off={!set} title={what} label={what}>
              {name}
            </Chip>
          );
        })}
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
      <Workload api={api} device={device} blocked={blocked} />
      {device.deviceId === DEVICE_ID.CONSOLE && <ConsoleTerminal api={api} devNum={device.devNum} blocked={blocked} />}
    </section>
  );
}

/** Why the view shows what it shows, when it is not a live board under this page's control. */
function Banner({ connected, blocked }: { connected: boolean; blocked: string | null }) {
  if (blocked === null) return null;
  return (
    <p className="devices-banner" role="status">
      {connected ? '' : 'The last known state of each device. '}
      {blocked}
    </p>
  );
}

export function DevicesView({ api }: { api: WorkbenchApi }) {
  const session = useSession(api);
  const state = session.state;
  const blocked = useActionBlocker(api, state);
  if (session.error) return <ErrorNote error={session.error} />;
  if (!state) return <p className="muted">Loading…</p>;
  if (state.devices.length === 0) {
    if (state.source === 'capture') return <p className="muted">The opened capture holds no device state: connect a board for a live session.</p>;
    if (!state.connected) return <p className="muted">No board is connected: connect one in Connect (key 1).</p>;
    return <p className="muted">The board has no devices yet: the bus is being enumerated.</p>;
  }
  return (
    <div className="devices-view">
      <Banner connected={state.connected} blocked={blocked} />
      {state.devices.map((d) => (
        <DeviceCard key={d.devNum} api={api} device={d} blocked={blocked} onChanged={(nd) => session.set(withDevice(state, nd))} />
      ))}
    </div>
  );
}
