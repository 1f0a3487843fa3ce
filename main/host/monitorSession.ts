/**
 * The monitor role's session: a passive link (read-only memory, no doorbells), the rings found
 * from the profile's queue format, a RingTap following them (chosen by monitorTap, for the CLI
 * and the service alike) and a Monitor recording into the session's Trace — the same crash-safe capture a driver session writes, so every view, export
 * and check reads it alike. However it ends, the capture is closed with the marker that says why.
 */
import type { BoardProfile } from '../../src/api/boardProfile';
import { queueGeometry } from '../../src/boards/geometry';
import type { QueueFormat } from '../../src/bus/queue';
import type { RingTap } from '../../src/bus/tap';
import type { Revision } from '../../src/protocol/types';
import { Monitor, type MonitorCounts } from '../../src/roles/monitor/monitor';
import { PollingTap } from '../../src/roles/monitor/pollTap';
import type { ObservedDevice } from '../../src/roles/monitor/reconstruct';
import { observeRings } from '../../src/roles/monitor/rings';
import type { Runtime } from '../../src/util/runtime';
import { BridgeRingTap } from '../../src/serialBridge/tap';
import { NativeRingTap } from '../native/index';
import { inspectRing, type RingState } from '../../src/virtio/inspect';
import { windowTranslator } from '../../src/virtio/layout';
import { errorText } from '../../src/util/errorText';
import { nodeRuntime } from './runtime';
import { SessionError, whenAborted } from './session';
import { systemErrorText } from './systemError';
import { openPassiveLink, type PassiveLink } from './links/passive';
import type { LinkSpec } from './links/spec';
import { Trace, type TraceTarget } from './trace/trace';

export interface MonitorSessionOptions {
  runtime?: Runtime;
  link?: LinkSpec;
  capture?: TraceTarget;
  signal?: AbortSignal;
  /** Follow the rings with the JavaScript polling tap at this interval instead of the link's own tap (monitorTap). */
  pollMs?: number;
  /** How long to wait for a vmamp/OpenAMP layout to be published (default the profile's, else 10 s). */
  layoutTimeoutMs?: number;
}

export class MonitorSession {
  readonly role = 'monitor' as const;
  private ended: string | null = null;
  private closing = false;

  constructor(
    readonly profile: BoardProfile,
    readonly link: PassiveLink,
    readonly monitor: Monitor,
    readonly trace: Trace,
    /** Which tap follows the rings, in words (a notice of the session and the CLI). */
    readonly tapDescription: string,
    /** Resolves with why, once the board's memory is gone (an access through the link or the tap found it so). */
    readonly lost: Promise<string>,
  ) {
    void lost.then((why) => this.end(why, 'error'));
  }

  /** The link's notices and which tap follows the rings. */
  get notices(): string[] {
    return [...this.link.notices, this.tapDescription];
  }

  /** Why the monitor stopped watching (the memory went away, or the user stopped it); null while it runs. */
  get endedBecause(): string | null {
    return this.ended;
  }

  get totals(): MonitorCounts {
    return this.monitor.totals;
  }

  /** Device and queue state as observed. */
  devices(): ObservedDevice[] {
    return this.monitor.devices();
  }

  /**
   * A virtqueue's rings read read-only at the addresses its SET_VQUEUE gave (avail.idx,
   * used.idx, in flight, descriptor chains); null when no SET_VQUEUE of it was observed.
   */
  inspectQueue(devNum: number, queue: number): Promise<RingState> | null {
    const q = this.devices().find((d) => d.devNum === devNum)?.queues.find((x) => x.index === queue);
    if (!q || q.size === 0) return null;
    const { dataWindow, dataPeerBase } = this.link;
    return inspectRing(dataWindow, windowTranslator(dataPeerBase, dataWindow.size), { size: q.size, descAddr: q.descAddr, driverAddr: q.driverAddr, deviceAddr: q.deviceAddr });
  }

  /** A user's note at this point of the trace; returns its seq. */
  bookmark(text: string): number {
    const seq = this.trace.recorder.marker('bookmark', text);
    this.trace.recorder.flush();
    return seq;
  }

  /** The user stops watching (Ctrl-C): a note says so. */
  interrupt(reason: string): Promise<void> {
    return this.end(reason, 'note');
  }

  private async end(reason: string, kind: 'error' | 'note'): Promise<void> {
    if (this.ended !== null || this.closing) return;
    this.ended = reason;
    await this.monitor.stop();
    this.trace.recorder.marker(kind, `monitor ${kind === 'error' ? 'lost' : 'ended'}: ${reason}`);
  }

  /** Records what was already copied, then closes the link and the capture. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      if (this.ended === null) await this.monitor.stop();
      const { messages, dropped } = this.monitor.totals;
      this.trace.recorder.marker(
        'detach',
        `monitor on ${this.link.description} closed: ${messages[0]} driver→device and ${messages[1]} device→driver messages recorded, ${dropped[0] + dropped[1]} lost`,
      );
      await this.link.close();
    } finally {
      this.trace.close();
    }
  }
}

/**
 * Opens the passive link the profile (or `opts.link`) names, finds the rings and starts
 * watching. A failure is a SessionError saying why, with the capture it leaves.
 */
export async function openMonitorSession(profile: BoardProfile, opts: MonitorSessionOptions = {}): Promise<MonitorSession> {
  const runtime = opts.runtime ?? nodeRuntime;
  let link: PassiveLink;
  try {
    link = await Promise.race([openPassiveLink(profile, opts.link), whenAborted(opts.signal)]);
  } catch (e) {
    throw e instanceof SessionError ? e : new SessionError(systemErrorText(e));
  }
  const started = Trace.start(profile, link.description, { ...opts.capture, notes: [...(opts.capture?.notes ?? []), 'recorded by a passive monitor'] }, runtime);
  if (!started.ok) {
    await link.close();
    throw new SessionError(started.error);
  }
  const trace = started.value;
  const fail = async (message: string): Promise<never> => {
    trace.recorder.marker('error', message);
    try {
      await link.close();
    } finally {
      trace.close();
    }
    throw new SessionError(message, { dir: trace.dir, records: trace.records });
  };
  const geometry = queueGeometry(profile);
  if (!geometry.ok) return fail(`profile ${profile.id}: ${geometry.error.field}: ${geometry.error.message}`);
  const format = profile.bus.format as QueueFormat;
  let observed: Awaited<ReturnType<typeof observeRings>>;
  try {
    observed = await Promise.race([
      observeRings(format, link.busWindow, geometry.value, {
        runtime,
        pollMs: 5,
        layoutTimeoutMs: opts.layoutTimeoutMs ?? profile.bus.timeouts?.layoutMs ?? 10_000,
        onStage: (stage, detail) => trace.recorder.queueState(`monitor ${stage}: ${detail}`),
      }),
      whenAborted(opts.signal),
    ]);
  } catch (e) {
    return fail(errorText(e));
  }
  if (!observed.ok) return fail(`cannot find the ${format} rings on ${link.description}: ${observed.error.code} at bus offset 0x${observed.error.offset.toString(16)}: ${observed.error.reason}`);
  let tapGone!: (why: string) => void;
  const lost = Promise.race([link.lost, new Promise<string>((resolve) => (tapGone = resolve))]);
  const chosen = monitorTap(link, { runtime, onGone: tapGone, ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }) });
  const tap = chosen.tap;
  const monitor = new Monitor(observed.value, tap, {
    revision: profile.bus.revision as Revision,
    recorder: trace.recorder,
    runtime,
    window: link.busWindow,
    startMonoNs: trace.meta.startMonoNs,
  });
  await monitor.start();
  const tapDescription = chosen.describe();
  trace.recorder.marker('attach', `monitoring ${link.description}: ${format}, ${profile.bus.revision}; read-only, no doorbells; ${tapDescription}`);
  const session = new MonitorSession(profile, link, monitor, trace, tapDescription, lost);
  const { signal } = opts;
  if (signal) {
    const stop = () => void session.interrupt(String(signal.reason));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  }
  return session;
}

export interface ChosenTap {
  tap: RingTap;
  /** Which tap it is, in words; after start() also whether the native thread got its real-time priority. */
  describe(): string;
}

/**
 * The one place a monitor's tap is chosen (docs/amp-bus.md §4.6): the native addon's watcher
 * thread for memory the addon maps (shm-file, pci, ivshmem), copying slots off the JS event
 * loop; the bridge agent's ring taps over a serial link (main/bridge-agent/PROTOCOL.md §3.3);
 * the JavaScript polling tap only where no mapping exists, or when `pollMs` asks for it.
 */
export function monitorTap(link: PassiveLink, opts: { runtime: Runtime; pollMs?: number; onGone: (why: string) => void }): ChosenTap {
  const source = link.tapSource;
  if (opts.pollMs !== undefined || source.kind === 'window') {
    const pollMs = opts.pollMs ?? 1;
    const tap = new PollingTap(link.busWindow, { runtime: opts.runtime, pollMs, yieldNow: () => new Promise((r) => setImmediate(r)) });
    const why = source.kind === 'window' ? 'the link maps no memory the native watcher could follow' : 'asked for with --poll-ms';
    return { tap, describe: () => `rings followed by the JavaScript polling tap every ${pollMs} ms (${why})` };
  }
  if (source.kind === 'bridge') {
    const tap = new BridgeRingTap(source.client, { runtime: opts.runtime, base: source.base });
    return { tap, describe: () => 'rings followed by the bridge agent on the board (ring taps, PROTOCOL.md §3.3); the line delays messages, it does not lose them' };
  }
  const tap = new NativeRingTap(source.mapping, source.base, { onGone: opts.onGone });
  return {
    tap,
    describe: () =>
      `rings followed by the native watcher thread${
        tap.realtime
          ? ' at real-time priority'
          : ' at ordinary priority (no CAP_SYS_NICE: a busy host can keep it off the CPU for a lap of a ring; sudo setcap cap_sys_nice+ep "$(command -v node)")'
      }`,
  };
}
