/**
 * A session owns one board connection: the link, the message queues (driver role), the bus
 * endpoint and the driver. Its API is what every front end (CLI now; Electron IPC and the
 * WebSocket bridge later) talks to.
 */
import type { BoardProfile } from '../../src/api/boardProfile';
import { attachProfileBus } from '../../src/boards/bus';
import type { BusEndpoint, EndpointObserver } from '../../src/bus/endpoint';
import type { AttachStage, MessageQueue } from '../../src/bus/queue';
import { Driver, type DeviceState, type DriverResult, type QueueIndexState } from '../../src/driver/driver';
import type { DriverPort } from '../../src/driver/port';
import type { Recorder } from '../../src/trace/recorder';
import type { Runtime } from '../../src/util/runtime';
import { nodeRuntime } from './runtime';
import { openBoardLink, type BoardLink, type LinkSpec } from './links/open';

export interface SessionOptions {
  runtime?: Runtime;
  onStage?: ((stage: AttachStage, detail: string) => void) | undefined;
  observer?: EndpointObserver;
  /** Records everything the session sees: messages, doorbells, queue states, ring indices, markers. */
  recorder?: Recorder;
}

export class SessionError extends Error {}

export class Session {
  private closing = false;

  constructor(
    readonly profile: BoardProfile,
    readonly link: BoardLink,
    readonly queue: MessageQueue,
    readonly endpoint: BusEndpoint,
    readonly driver: Driver,
    readonly runtime: Runtime,
    /** What the queue set-up tolerated (peer quirks), as findings. */
    readonly findings: string[],
    readonly recorder: Recorder | null = null,
    /** Resolves with why, once the board is gone under the session (link lost, or the peer stopped the bus). */
    private readonly lost: Promise<string> = new Promise(() => undefined),
  ) {}

  /**
   * Calls `listener` once if the session is lost under the user: the link went away, or the
   * board stopped or restarted its side of the bus (a reset mid-session). The trace has an
   * error marker saying why; the caller decides to close. Not called after close().
   */
  onLost(listener: (reason: string) => void): void {
    void this.lost.then((reason) => {
      if (this.closing) return;
      this.recorder?.marker('error', `session lost: ${reason}`);
      listener(reason);
    });
  }

  /** What the user should know about the link (polling instead of interrupts…); may grow during the session. */
  get notices(): readonly string[] {
    return this.link.notices ?? [];
  }

  /** Enumerates the bus and brings every device to DRIVER_OK. */
  probe(): Promise<DriverResult<DeviceState[]>> {
    return this.driver.probeAll();
  }

  /** Resets a device and brings it up again; the trace gets a reset marker first. */
  resetDevice(devNum: number): Promise<DeviceState> {
    this.recorder?.marker('reset', `driver resets device ${devNum}`, { devNum });
    return this.driver.reset(devNum);
  }

  /** A user's note at this point of the trace. */
  bookmark(text: string): number | null {
    return this.recorder?.marker('bookmark', text) ?? null;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.recorder?.marker('detach', `session on ${this.link.description} closed`);
    this.driver.close();
    try {
      await this.queue.shutdown?.();
    } catch (e) {
      // A board that is gone cannot take the orderly SHUTDOWN; our side is freed all the same.
      this.recorder?.marker('note', `the queue's SHUTDOWN status was not written: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.endpoint.close();
    await this.link.close();
  }
}

function driverPort(endpoint: BusEndpoint): DriverPort {
  return {
    async request(bytes, timeoutMs) {
      const r = await endpoint.request(bytes, { timeoutMs });
      return r.ok ? r : { ok: false, error: r.error.message, timedOut: r.error.code === 'no-response' };
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

/** Opens the link the profile describes (or `opts.link`) and attaches a session to it. */
export async function openSession(profile: BoardProfile, opts: SessionOptions & { link?: LinkSpec } = {}): Promise<Session> {
  let link: BoardLink;
  try {
    link = await openBoardLink(profile, opts.link);
  } catch (e) {
    throw new SessionError(e instanceof Error ? e.message : String(e));
  }
  return attachSession(profile, link, opts);
}

/** The link with its doorbells recorded: the workbench ringing the board, and the board ringing back. */
function tracedLink(link: BoardLink, recorder: Recorder): BoardLink {
  const traced: BoardLink = {
    description: link.description,
    busWindow: link.busWindow,
    dataWindow: link.dataWindow,
    dataPeerBase: link.dataPeerBase,
    doorbellOut: {
      ring() {
        recorder.doorbell('driver-to-device');
        return link.doorbellOut.ring();
      },
    },
    doorbellIn: {
      mode: link.doorbellIn.mode,
      subscribe: (listener) =>
        link.doorbellIn.subscribe(() => {
          recorder.doorbell('device-to-driver');
          listener();
        }),
    },
    close: () => link.close(),
  };
  if (link.ready) traced.ready = link.ready;
  if (link.findings) traced.findings = link.findings;
  // A getter, because a link adds notices as it learns (an interrupt source that dies mid-session).
  Object.defineProperty(traced, 'notices', { get: () => link.notices ?? [] });
  return traced;
}

/** Each device's bring-up phases as markers: a reset (the driver's own, e.g. after NEEDS_RESET), a failure, or a note. */
function recordPhases(driver: Driver, recorder: Recorder): void {
  const last = new Map<number, string>();
  driver.subscribe((d) => {
    if (last.get(d.devNum) === d.phase) return;
    last.set(d.devNum, d.phase);
    const text = `phase ${d.phase}${d.error ? `: ${d.error}` : ''}`;
    const kind = d.phase === 'resetting' ? 'reset' : d.phase === 'failed' ? 'error' : 'note';
    recorder.marker(kind, text, { devNum: d.devNum });
  });
}

function bothObservers(a: EndpointObserver | undefined, b: EndpointObserver | undefined): EndpointObserver | undefined {
  if (!a || !b) return a ?? b;
  return {
    onMessage: (m) => {
      a.onMessage?.(m);
      b.onMessage?.(m);
    },
    onProblem: (p) => {
      a.onProblem?.(p);
      b.onProblem?.(p);
    },
  };
}

/**
 * Runs the bus handshake as the driver over `link`, then sets up endpoint and driver. On
 * failure the link is closed and the error says which stage failed and why.
 */
export async function attachSession(profile: BoardProfile, board: BoardLink, opts: SessionOptions = {}): Promise<Session> {
  const recorder = opts.recorder ?? null;
  const link = recorder ? tracedLink(board, recorder) : board;
  const fail = async (message: string): Promise<never> => {
    recorder?.marker('error', message);
    await link.close();
    throw new SessionError(message);
  };
  if (profile.hostRole !== 'driver') return fail(`board ${profile.id} has hostRole "${profile.hostRole}"; the workbench plays the driver role`);
  const runtime = opts.runtime ?? nodeRuntime;
  const onStage = recorder
    ? (stage: AttachStage, detail: string) => {
        recorder.queueState(`${stage}: ${detail}`);
        opts.onStage?.(stage, detail);
      }
    : opts.onStage;
  // Peer quirks tolerated: the link's, the queue set-up's, and tokens the peer did not echo.
  const tolerated: string[] = [...(board.findings ?? [])];
  // Set once the bus is up: a queue that then stops for good (the peer's SHUTDOWN, PEER_DEAD or
  // restart to INIT) loses the session.
  let attached: MessageQueue | null = null;
  let loseBus: (why: string) => void = () => undefined;
  const busLost = new Promise<string>((resolve) => (loseBus = resolve));
  const quirks: EndpointObserver = {
    onProblem: (p) => {
      if (p.kind === 'message' && p.problem.code === 'token-mismatch' && !tolerated.includes(p.problem.reason)) tolerated.push(p.problem.reason);
      if (p.kind === 'queue' && attached?.fault) loseBus(`the board stopped its side of the bus (${p.problem.reason})`);
    },
  };
  const observer = bothObservers(bothObservers(recorder?.observer(), opts.observer), quirks);
  const attaching = attachProfileBus(profile, 'driver', link, { runtime, pollMs: 2, defaultTimeoutMs: 10_000, onStage, observer });
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
  attached = queue;
  const lost = board.lost ? Promise.race([busLost, board.lost]) : busLost;
  const driver = new Driver({
    port: driverPort(endpoint),
    revision,
    maxMessageSize: Math.min(profile.bus.maxMessageSize, queue.slotSize),
    responseTimeoutMs: profile.bus.timeouts?.responseMs ?? 1000,
    data: { window: link.dataWindow, peerBase: link.dataPeerBase },
    runtime,
    ...(profile.devices ? { expectedDevices: profile.devices } : {}),
    ...(recorder ? { onQueueIndex: (devNum: number, q: number, state: QueueIndexState) => void recorder.vqIndex(devNum, q, state) } : {}),
  });
  if (recorder) recordPhases(driver, recorder);
  tolerated.push(...bus.findings.map((f) => f.reason));
  const findings = tolerated;
  recorder?.marker('attach', `attached to ${profile.id} over ${link.description}: ${profile.bus.format}, ${revision}${findings.length ? `; tolerated: ${findings.join('; ')}` : ''}`);
  return new Session(profile, link, queue, endpoint, driver, runtime, findings, recorder, lost);
}
