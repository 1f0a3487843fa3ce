/**
 * The monitor role's session: a passive link (read-only memory, no doorbells), the rings found
 * from the profile's queue format, a RingTap following them and a Monitor recording into the
 * session's Trace — the same crash-safe capture a driver session writes, so every view, export
 * and check reads it alike. However it ends, the capture is closed with the marker that says why.
 */
import type { BoardProfile } from '../../src/api/boardProfile';
import { queueGeometry } from '../../src/boards/geometry';
import type { QueueFormat } from '../../src/bus/queue';
import type { RingTap } from '../../src/bus/tap';
import type { MemoryWindow } from '../../src/bus/window';
import type { Revision } from '../../src/protocol/types';
import { Monitor, type MonitorCounts } from '../../src/roles/monitor/monitor';
import { PollingTap } from '../../src/roles/monitor/pollTap';
import type { ObservedDevice } from '../../src/roles/monitor/reconstruct';
import { observeRings } from '../../src/roles/monitor/rings';
import type { Runtime } from '../../src/util/runtime';
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
  /** The tap to follow the rings with (default: the JS polling tap over the bus window). */
  tap?: (window: MemoryWindow) => RingTap;
  /** Poll interval of the default tap (default 1 ms). */
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
  ) {
    void link.lost.then((why) => this.end(why, 'error'));
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
  const tap = opts.tap ? opts.tap(link.busWindow) : new PollingTap(link.busWindow, { runtime, pollMs: opts.pollMs ?? 1, yieldNow: () => new Promise((r) => setImmediate(r)) });
  const monitor = new Monitor(observed.value, tap, {
    revision: profile.bus.revision as Revision,
    recorder: trace.recorder,
    runtime,
    window: link.busWindow,
    startMonoNs: trace.meta.startMonoNs,
  });
  trace.recorder.marker('attach', `monitoring ${link.description}: ${format}, ${profile.bus.revision}; read-only, no doorbells`);
  await monitor.start();
  const session = new MonitorSession(profile, link, monitor, trace);
  const { signal } = opts;
  if (signal) {
    const stop = () => void session.interrupt(String(signal.reason));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  }
  return session;
}
