/**
 * A session owns one board connection: the link, the message queues (driver role), the bus
 * endpoint, the driver, and the trace it always records (trace/trace.ts). Its API is what every
 * front end (the CLI and the service) talks to. However it ends (closed, failed to attach, board
 * gone) its capture is closed with everything recorded up to then, including the marker that
 * says what went wrong.
 */
import type { BoardProfile } from '../../src/api/boardProfile';
import { attachProfileBus } from '../../src/boards/bus';
import type { BusEndpoint, EndpointError, EndpointObserver } from '../../src/bus/endpoint';
import { BusProblemTally } from '../../src/bus/problems';
import type { AttachStage, MessageQueue } from '../../src/bus/queue';
import { Driver, type BringUpProgress, type DeviceState, type QueueIndexState } from '../../src/roles/driver/driver';
import type { DriverPort } from '../../src/roles/driver/port';
import type { Recorder } from '../../src/trace/recorder';
import { BUFFER_BYTES_MAX } from '../../src/trace/record';
import { errorText } from '../../src/util/errorText';
import type { Result } from '../../src/util/result';
import type { Runtime } from '../../src/util/runtime';
import { nodeRuntime } from './runtime';
import { systemErrorText } from './systemError';
import { openBoardLink, type BoardLink } from './links/open';
import type { LinkSpec } from './links/spec';
import { Trace, type TraceTarget } from './trace/trace';

export interface SessionOptions {
  runtime?: Runtime;
  onStage?: ((stage: AttachStage, detail: string) => void) | undefined;
  /** Told as Session.probe brings each device up, or gives up on the rest. */
  onProgress?: ((progress: BringUpProgress) => void) | undefined;
  observer?: EndpointObserver;
  /** Where the trace goes: the capture folder the user named, or an automatic rolling capture. */
  capture?: TraceTarget;
  /**
   * The user's stop (Ctrl-C), its reason a string: during set-up the attach fails with it, after
   * it the session is interrupted (Session.interrupt).
   */
  signal?: AbortSignal;
}

/** Rejects with the signal's reason once it aborts (never settles without one). */
export function whenAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (!signal) return;
    const stop = () => reject(new SessionError(String(signal.reason)));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}

export class SessionError extends Error {
  constructor(
    message: string,
    /** The trace of the session that failed to start, ending with its error marker (null when no capture could be started). */
    readonly trace: { dir: string; records: number } | null = null,
  ) {
    super(message);
  }

  /** Where that trace is, in words ("3 records kept in DIR"); null without one. */
  get kept(): string | null {
    return this.trace && `${this.trace.records} record${this.trace.records === 1 ? '' : 's'} kept in ${this.trace.dir}`;
  }
}

export class Session {
  private closing = false;
  private ended: string | null = null;
  private readonly lostListeners: ((reason: string) => void)[] = [];
  private lostReason: string | null = null;

  constructor(
    readonly profile: BoardProfile,
    readonly link: BoardLink,
    readonly queue: MessageQueue,
    readonly endpoint: BusEndpoint,
    readonly driver: Driver,
    readonly runtime: Runtime,
    /** What the queue set-up tolerated (peer quirks), as findings. */
    readonly findings: string[],
    /** Everything the session sees: messages, doorbells, queue states, ring indices, markers. */
    readonly trace: Trace,
    /** Resolves with why, once the board is gone under the session (link lost, or the peer stopped the bus). */
    lost: Promise<string> = new Promise(() => undefined),
    /** The board's faults on the bus seen during the session (queue indices, malformed messages). */
    private readonly boardFaults: BusProblemTally | null = null,
  ) {
    void lost.then(async (reason) => {
      if (!(await this.end(reason, 'error'))) return;
      this.lostReason = reason;
      for (const l of this.lostListeners.splice(0)) l(reason);
    });
  }

  /**
   * Why the session stopped talking to the board (the link was lost, the board stopped its side
   * of the bus, or the user interrupted it); null while it runs. Every request made after that
   * fails at once with this reason.
   */
  get endedBecause(): string | null {
    return this.ended;
  }

  /**
   * Calls `listener` once if the session is lost under the user: the link went away, or the
   * board stopped or restarted its side of the bus (a reset mid-session). By then the trace has
   * an error marker saying why and every request has failed with the reason; the caller decides
   * to close. Not called after close() or interrupt().
   */
  onLost(listener: (reason: string) => void): void {
    if (this.lostReason !== null) listener(this.lostReason);
    else this.lostListeners.push(listener);
  }

  /** The user stops the session (Ctrl-C): the same as a lost link, with a note instead of an error in the trace. */
  interrupt(reason: string): Promise<void> {
    return this.end(reason, 'note').then(() => undefined);
  }

  /**
   * Stops all traffic at once, the first time only (returns whether it did): what the board
   * already published is drained into the trace while the mapping is still valid, a marker
   * says why, every outstanding and later request fails with `reason`, and workloads waiting on
   * a used ring stop.
   */
  private async end(reason: string, marker: 'error' | 'note'): Promise<boolean> {
    if (this.closing || this.ended !== null) return false;
    this.ended = reason;
    await this.endpoint.drain();
    this.trace.recorder.marker(marker, `session ${marker === 'error' ? 'lost' : 'ended'}: ${reason}`);
    this.endpoint.abort(reason);
    this.driver.abort(reason);
    return true;
  }

  /**
   * What the board did wrong on the bus during the session, one line per kind with its count
   * (e.g. "bus queue: peer producer index 68 at 0x0040 is outside 0..62 (N = 63); …").
   */
  busProblems(): string[] {
    return this.boardFaults?.lines() ?? [];
  }

  /** What the user should know about the link (polling instead of interrupts…); may grow during the session. */
  get notices(): readonly string[] {
    return this.link.notices ?? [];
  }

  /** Enumerates the bus and brings every device to DRIVER_OK. */
  probe(): Promise<Result<DeviceState[]>> {
    return this.driver.probeAll();
  }

  /** Resets a device and brings it up again; the trace gets a reset marker first. */
  resetDevice(devNum: number): Promise<DeviceState> {
    this.trace.recorder.marker('reset', `driver resets device ${devNum}`, { devNum });
    return this.driver.reset(devNum);
  }

  /** A user's note at this point of the trace, flushed at once so a reader finds it; returns its seq. */
  bookmark(text: string): number {
    const seq = this.trace.recorder.marker('bookmark', text);
    this.trace.recorder.flush();
    return seq;
  }

  /** A failure the session's user saw (a workload that failed), as an error marker in the trace. */
  recordError(text: string, devNum?: number): void {
    this.trace.recorder.marker('error', text, devNum === undefined ? {} : { devNum });
  }

  /**
   * Drains what the board already published into the trace, then detaches (SHUTDOWN where the
   * board is still there) and closes the capture.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      await this.detach();
    } finally {
      this.trace.close();
    }
  }

  private async detach(): Promise<void> {
    await this.endpoint.drain();
    this.driver.close();
    try {
      await this.queue.shutdown?.();
    } catch (e) {
      // A board that is gone cannot take the orderly SHUTDOWN; our side is freed all the same. A
      // failure for the reason the session was lost (a shrunk file) is said by its ERROR marker.
      const why = errorText(e);
      if (why !== this.ended) this.trace.recorder.marker('note', `the queue's SHUTDOWN status was not written: ${why}`);
    }
    // DETACH last: the capture ends with why the session ended (ERROR), then DETACH.
    this.trace.recorder.marker('detach', `session on ${this.link.description} closed`);
    this.endpoint.close();
    await this.link.close();
  }
}

/**
 * The endpoint as the driver's port. `ended` is the session's reason once it ended: a failure
 * that raced the end (a doorbell write refused by a peer that just died) is the link's loss too.
 */
function driverPort(endpoint: BusEndpoint, ended: () => string | null): DriverPort {
  const lost = (error: EndpointError): string | null => (error.code === 'link-lost' ? error.message : ended());
  return {
    async request(bytes, timeoutMs) {
      // Once the session has ended nothing more reaches the board, also while its end drains the queue.
      const over = ended();
      if (over !== null) return { ok: false, error: over, linkLost: true };
      const r = await endpoint.request(bytes, { timeoutMs });
      if (r.ok) return r;
      const reason = lost(r.error);
      return reason !== null ? { ok: false, error: reason, linkLost: true } : { ok: false, error: r.error.message, timedOut: r.error.code === 'no-response' };
    },
    async post(bytes) {
      const over = ended();
      if (over !== null) return { ok: false, error: over };
      const r = await endpoint.send(bytes);
      return r.ok ? r : { ok: false, error: lost(r.error) ?? r.error.message };
    },
    onEvent(listener) {
      return endpoint.onEvent('any', (ev) => listener(ev.bytes));
    },
    poll: () => endpoint.drain(),
  };
}

/**
 * Opens the link the profile describes (or `opts.link`) and attaches a session to it: the one
 * place a board's link is opened. A failure or the user's stop is a SessionError saying why.
 */
export async function openSession(profile: BoardProfile, opts: SessionOptions & { link?: LinkSpec } = {}): Promise<Session> {
  let link: BoardLink;
  try {
    link = await openLink(profile, opts);
  } catch (e) {
    throw e instanceof SessionError ? unreached(profile, e.message, opts) : e;
  }
  return attachSession(profile, link, opts);
}

/** A board whose link did not open leaves a trace too: one error marker saying why. */
function unreached(profile: BoardProfile, message: string, opts: SessionOptions & { link?: LinkSpec }): SessionError {
  const started = Trace.start(profile, `${opts.link?.kind ?? profile.access.kind} link (not opened)`, opts.capture ?? {}, opts.runtime ?? nodeRuntime);
  if (!started.ok) return new SessionError(message);
  const trace = started.value;
  trace.recorder.marker('error', message);
  return new SessionError(message, { dir: trace.dir, records: trace.close() });
}

async function openLink(profile: BoardProfile, opts: { link?: LinkSpec; signal?: AbortSignal }): Promise<BoardLink> {
  const opening = openBoardLink(profile, opts.link);
  try {
    return await Promise.race([opening, whenAborted(opts.signal)]);
  } catch (e) {
    // A link that opens after the user stopped waiting is closed at once.
    void opening.then((l) => l.close(), () => undefined);
    throw e instanceof SessionError ? e : new SessionError(systemErrorText(e));
  }
}

/**
 * Each device's bring-up phases as markers: a reset (the driver's own, e.g. after NEEDS_RESET),
 * a failure, or a note. A device that fails because the session ended has no marker of its own:
 * the session's end has one.
 */
function recordPhases(driver: Driver, recorder: Recorder, ended: () => string | null): void {
  const last = new Map<number, string>();
  driver.subscribe((d) => {
    if (last.get(d.devNum) === d.phase) return;
    last.set(d.devNum, d.phase);
    if (d.phase === 'failed' && ended() !== null) return;
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
    onDoorbell: (d) => {
      a.onDoorbell?.(d);
      b.onDoorbell?.(d);
    },
  };
}

/**
 * Starts the session's trace, runs the bus handshake as the driver over `link`, then sets up
 * endpoint and driver. On failure the link is closed, the trace ends with an error marker, and
 * the error says which stage failed and why.
 */
export async function attachSession(profile: BoardProfile, link: BoardLink, opts: SessionOptions = {}): Promise<Session> {
  const runtime = opts.runtime ?? nodeRuntime;
  const started = Trace.start(profile, link.description, opts.capture ?? {}, runtime);
  if (!started.ok) {
    await link.close();
    throw new SessionError(started.error);
  }
  const trace = started.value;
  const { recorder } = trace;
  const fail = async (message: string): Promise<never> => {
    recorder.marker('error', message);
    try {
      await link.close();
    } finally {
      trace.close();
    }
    throw new SessionError(message, { dir: trace.dir, records: trace.records });
  };
  if (profile.hostRole !== 'driver') return fail(`board ${profile.id} has hostRole "${profile.hostRole}"; the workbench plays the driver role`);
  const onStage = (stage: AttachStage, detail: string) => {
    recorder.queueState(`${stage}: ${detail}`);
    opts.onStage?.(stage, detail);
  };
  // Peer quirks tolerated: the link's, the queue set-up's, and tokens the peer did not echo.
  const tolerated: string[] = [...(link.findings ?? [])];
  // Set once the bus is up: a queue that then stops for good (the peer's SHUTDOWN, PEER_DEAD or
  // restart to INIT) loses the session.
  let attached: MessageQueue | null = null;
  const busStopped = (): string | null => (attached?.fault ? `the board stopped its side of the bus (${attached.fault.reason})` : null);
  let loseBus: (why: string) => void = () => undefined;
  const busLost = new Promise<string>((resolve) => (loseBus = resolve));
  // Counted from the end of the bus set-up (a set-up fault fails the attach instead).
  let boardFaults: BusProblemTally | null = null;
  const quirks: EndpointObserver = {
    onProblem: (p) => {
      boardFaults?.add(p);
      if (p.kind === 'message' && p.problem.code === 'token-mismatch' && !tolerated.includes(p.problem.reason)) tolerated.push(p.problem.reason);
      const stopped = p.kind === 'queue' ? busStopped() : null;
      if (stopped) loseBus(stopped);
    },
  };
  const observer = bothObservers(bothObservers(recorder.observer(), opts.observer), quirks);
  const attaching = attachProfileBus(profile, 'driver', link, { runtime, pollMs: 2, defaultTimeoutMs: 10_000, onStage, observer });
  // A simulated board whose worker failed says why at once instead of a handshake timeout.
  const never = new Promise<never>(() => undefined);
  const failed = link.ready ? link.ready.then(() => never) : never;
  let bus: Awaited<typeof attaching>;
  try {
    bus = await Promise.race([attaching, failed, whenAborted(opts.signal)]);
  } catch (e) {
    return fail(systemErrorText(e));
  }
  if (!bus.ok) return fail(`bus set-up on ${link.description} failed (${bus.error})`);
  const { queue, endpoint, revision } = bus.value;
  attached = queue;
  boardFaults = new BusProblemTally(revision);
  const lost = link.lost ? Promise.race([busLost, link.lost]) : busLost;
  let session: Session | null = null;
  // Why the session ended; a queue the board stopped ends it even before the session heard of it.
  const ended = (): string | null => session?.endedBecause ?? busStopped();
  const driver = new Driver({
    port: driverPort(endpoint, ended),
    revision,
    maxMessageSize: Math.min(profile.bus.maxMessageSize, queue.slotSize),
    responseTimeoutMs: profile.bus.timeouts?.responseMs ?? 1000,
    data: { window: link.dataWindow, peerBase: link.dataPeerBase },
    runtime,
    ...(profile.devices ? { expectedDevices: profile.devices } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    onQueueIndex: (devNum: number, q: number, state: QueueIndexState) => void recorder.vqIndex(devNum, q, state),
    onBuffer: { max: BUFFER_BYTES_MAX, seen: (devNum, q, toDevice, head, length, bytes) => void recorder.buffer(toDevice ? 'driver-to-device' : 'device-to-driver', devNum, q, head, length, bytes) },
  });
  recordPhases(driver, recorder, ended);
  tolerated.push(...bus.value.findings.map((f) => f.reason));
  const findings = tolerated;
  recorder.marker('attach', `attached to ${profile.id} over ${link.description}: ${profile.bus.format}, ${revision}${findings.length ? `; tolerated: ${findings.join('; ')}` : ''}`);
  session = new Session(profile, link, queue, endpoint, driver, runtime, findings, trace, lost, boardFaults);
  const { signal } = opts;
  if (signal) {
    const stop = () => void session?.interrupt(String(signal.reason));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  }
  return session;
}
