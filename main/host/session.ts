/**
 * A session owns one board connection: the link, the message queues (driver role), the bus
 * endpoint and the driver. Its API is what every front end (CLI now; Electron IPC and the
 * WebSocket bridge later) talks to.
 */
import type { BoardProfile } from '../../src/api/boardProfile';
import { attachProfileBus } from '../../src/boards/bus';
import type { BusEndpoint, EndpointObserver } from '../../src/bus/endpoint';
import type { Link } from '../../src/bus/link';
import type { AttachStage, MessageQueue } from '../../src/bus/queue';
import { Driver, type DeviceState, type DriverResult } from '../../src/driver/driver';
import type { DriverPort } from '../../src/driver/port';
import type { Runtime } from '../../src/util/runtime';
import { nodeRuntime } from './runtime';
import { startSimBoard } from './sim/simLink';

export interface SessionOptions {
  runtime?: Runtime;
  onStage?: ((stage: AttachStage, detail: string) => void) | undefined;
  observer?: EndpointObserver;
}

export class SessionError extends Error {}

export class Session {
  constructor(
    readonly profile: BoardProfile,
    readonly link: Link,
    readonly queue: MessageQueue,
    readonly endpoint: BusEndpoint,
    readonly driver: Driver,
    readonly runtime: Runtime,
    /** What the queue set-up tolerated (peer quirks), as findings. */
    readonly findings: string[],
  ) {}

  /** Enumerates the bus and brings every device to DRIVER_OK. */
  probe(): Promise<DriverResult<DeviceState[]>> {
    return this.driver.probeAll();
  }

  async close(): Promise<void> {
    this.driver.close();
    await this.queue.shutdown?.();
    this.endpoint.close();
    await this.link.close();
  }
}

/** The link a profile describes. Real-hardware links (pci, serial bridge, shm file) plug in here. */
function openLink(profile: BoardProfile): Link & { ready?: Promise<void> } {
  if (profile.access.kind === 'sim') return startSimBoard(profile);
  throw new SessionError(
    `board ${profile.id} is reached through access kind "${profile.access.kind}", for which this build has no link yet; the simulated boards (access kind "sim") work everywhere`,
  );
}

function driverPort(endpoint: BusEndpoint): DriverPort {
  return {
    async request(bytes, timeoutMs) {
      const r = await endpoint.request(bytes, { timeoutMs });
      return r.ok ? r : { ok: false, error: r.error.message };
    },
    async post(bytes) {
      const r = await endpoint.send(bytes);
      return r.ok ? r : { ok: false, error: r.error.message };
    },
    onEvent(listener) {
      return endpoint.onEvent('any', (ev) => listener(ev.bytes));
    },
    poll: () => endpoint.drain(),
  };
}

/** Opens the link the profile describes and attaches a session to it. */
export function openSession(profile: BoardProfile, opts: SessionOptions = {}): Promise<Session> {
  return attachSession(profile, openLink(profile), opts);
}

/**
 * Runs the bus handshake as the driver over `link`, then sets up endpoint and driver. On
 * failure the link is closed and the error says which stage failed and why.
 */
export async function attachSession(profile: BoardProfile, link: Link & { ready?: Promise<void> }, opts: SessionOptions = {}): Promise<Session> {
  const fail = async (message: string): Promise<never> => {
    await link.close();
    throw new SessionError(message);
  };
  if (profile.hostRole !== 'driver') return fail(`board ${profile.id} has hostRole "${profile.hostRole}"; the workbench plays the driver role`);
  const runtime = opts.runtime ?? nodeRuntime;
  const attaching = attachProfileBus(profile, 'driver', link, { runtime, pollMs: 2, defaultTimeoutMs: 10_000, onStage: opts.onStage, observer: opts.observer });
  // A simulated board whose worker failed says why at once instead of a handshake timeout.
  const never = new Promise<never>(() => undefined);
  const failed = link.ready ? link.ready.then(() => never) : never;
  let bus: Awaited<typeof attaching>;
  try {
    bus = await Promise.race([attaching, failed]);
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
  if (!bus.ok) return fail(`bus set-up on ${link.description} failed (${bus.error})`);
  const { queue, endpoint, revision } = bus;
  const driver = new Driver({
    port: driverPort(endpoint),
    revision,
    maxMessageSize: Math.min(profile.bus.maxMessageSize, queue.slotSize),
    responseTimeoutMs: profile.bus.timeouts?.responseMs ?? 1000,
    data: { window: link.dataWindow, peerBase: link.dataPeerBase },
    runtime,
    ...(profile.devices ? { expectedDevices: profile.devices } : {}),
  });
  return new Session(profile, link, queue, endpoint, driver, runtime, bus.findings.map((f) => f.reason));
}
