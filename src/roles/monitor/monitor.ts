/**
 * The passive bus monitor (docs/amp-bus.md §4.6): follows both message rings through a RingTap,
 * never writing the bus or ringing a doorbell, and records what it copies into the same capture
 * a driver session records (src/trace/recorder.ts), in the order the tap delivers it:
 *
 * - every message, trimmed to msg_size by the endpoint's rule (bus/endpoint.ts `slotMessage`),
 *   the two rings' messages of one look merged in protocol order (order.ts), paired
 *   request↔response by the recorder's own matcher and checked by its conformance rules;
 * - a 'dropped' marker per batch that lost messages: the exact count from the index distance
 *   and the time window in which they were overwritten (after the previous copy of that ring,
 *   up to this one);
 * - a 'note' marker when it joins a bus already running, naming what it could not see;
 * - the status words of the heads (vmamp INIT/READY/RUN/…, OpenAMP READY) as queue-state
 *   records whenever they change, and a side that re-initialised its head restarts the watch;
 * - an spsc side that restarted (the format has no status word, so only the indices tell):
 *   said once per restart, and the slots its producer index skipped back over are not taken
 *   for new messages (`restartedSide`);
 * - device and queue state rebuilt from the observed messages (reconstruct.ts).
 */
import { slotMessage } from '../../bus/endpoint';
import type { QueueProblem } from '../../bus/queue';
import type { RingTap, TapBatch } from '../../bus/tap';
import type { Revision } from '../../protocol/types';
import type { Recorder } from '../../trace/recorder';
import { errorText } from '../../util/errorText';
import { hexNum } from '../../util/hex';
import type { Runtime } from '../../util/runtime';
import type { MemoryWindow } from '../../bus/window';
import { CausalOrder, type Copied } from './order';
import { BusModel, type ObservedDevice } from './reconstruct';
import type { ObservedRings, SideStates } from './rings';

export interface MonitorOptions {
  revision: Revision;
  recorder: Recorder;
  runtime: Runtime;
  /** Where the rings are (the bus window), read for the starting indices and the heads' states. */
  window: MemoryWindow;
  /** How often the heads' status words are read (default 20 ms). */
  statePollMs?: number;
  /** The capture's start on the monotonic clock, so a loss window is said as time into the capture. */
  startMonoNs?: bigint;
}

export interface MonitorCounts {
  messages: [number, number];
  dropped: [number, number];
}

/**
 * A pause between two looks at a ring long enough to be said (the host did not run the
 * monitor): a 4-slot OpenAMP ring laps in 4 messages, a fraction of a millisecond apart.
 */
const STALL_NS = 2_000_000n;

/**
 * A ring that stood still at least this long before its producer index went back across 0 may
 * have a restarted producer: starting a process takes far longer, a busy bus never stands still.
 */
const RESTART_IDLE_NS = 50_000_000n;

type Unread = NonNullable<TapBatch['unread']>;
/** Late looks at one ring: how many, the span they fall in, and the longest. */
interface Stalls {
  count: number;
  fromNs: bigint;
  toNs: bigint;
  longest: Unread;
}

const ARROW: Record<string, string> = { 'driver-to-device': 'driver→device', 'device-to-driver': 'device→driver' };

export class Monitor {
  readonly model: BusModel;
  private readonly counts: MonitorCounts = { messages: [0, 0], dropped: [0, 0] };
  /** Per ring: when its last copy was seen (the start of the next loss window). */
  private readonly lastSeen: bigint[] = [0n, 0n];
  private lastStates = '';
  private stopState: (() => void) | null = null;
  private running = false;
  private restarting: Promise<void> | null = null;
  private readonly problems: string[] = [];
  /** Per ring, when a late look was last said (at most once a second each). */
  private readonly lastStallNote: bigint[] = [-(1n << 62n), -(1n << 62n)];
  /** Per ring, late looks within a second of the last note, said with the next one or at stop. */
  private readonly heldStalls: (Stalls | null)[] = [null, null];
  private readonly order: CausalOrder;
  private look: { seenNs: bigint; down: Copied[]; up: Copied[] } | null = null;
  private cancelFlush: (() => void) | null = null;
  /** spsc only, per ring: what the monitor last knew each slot to hold (read at start, then every copy). */
  private readonly slotBytes: (Uint8Array | null)[];
  /** Per ring: when its producer index last moved (or the watch started). */
  private readonly lastMove: bigint[] = [0n, 0n];

  constructor(
    private readonly observed: ObservedRings,
    private readonly tap: RingTap,
    private readonly opts: MonitorOptions,
  ) {
    this.model = new BusModel(opts.revision);
    this.order = new CausalOrder(opts.revision);
    const spsc = observed.format === 'spsc-v0' || observed.format === 'spsc-v1';
    this.slotBytes = observed.rings.map((r) => (spsc ? new Uint8Array(r.slots.slots * r.slots.slotSize) : null));
  }

  /** Messages recorded and lost per ring, [driver→device, device→driver]. */
  get totals(): MonitorCounts {
    return { messages: [...this.counts.messages], dropped: [...this.counts.dropped] };
  }

  /** Queue problems the tap reported (bad indices), each once. */
  get queueProblems(): readonly string[] {
    return this.problems;
  }

  devices(): ObservedDevice[] {
    return this.model.states();
  }

  /** Says where it joined, then follows the rings until stop(). */
  async start(): Promise<void> {
    const { recorder } = this.opts;
    recorder.queueState(`monitor: ${this.observed.description}`);
    const states = await this.observed.states();
    this.noteStates(states);
    const joined = await this.joinedText(states);
    if (joined) recorder.marker('note', joined);
    for (const [i, bytes] of this.slotBytes.entries()) {
      const { slots } = this.observed.rings[i]!;
      if (bytes) for (let k = 0; k < slots.slots; k++) bytes.set(await this.opts.window.read(slots.offset + k * slots.stride, slots.slotSize), k * slots.slotSize);
    }
    this.running = true;
    this.follow();
    this.watchStates();
  }

  /** Stops following; every slot already copied is recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopState?.();
    await this.restarting;
    await this.tap.stop();
    this.flush();
    for (const [i, held] of this.heldStalls.entries()) if (held) this.sayStalls(i, held);
    this.opts.recorder.flush();
  }

  private follow(): void {
    const now = this.opts.runtime.monoNs();
    this.lastSeen.fill(now);
    this.lastMove.fill(now);
    this.tap.start(this.observed.rings, (b) => this.batch(b), (p) => this.problem(p));
  }

  private batch(b: TapBatch): void {
    const stale = this.staleAfterRestart(b);
    if (stale === 0) {
      this.take(b);
      return;
    }
    const ring = this.observed.rings[b.ring]!;
    const side = ring.direction === 'driver-to-device' ? 'driver' : 'device';
    this.flush();
    this.opts.recorder.marker(
      'note',
      `monitor: the ${side} side restarted (${this.observed.format} has no status word): its ${ARROW[ring.direction]} ring stood still from ${this.at(this.lastMove[b.ring]!)}, ` +
        `then its producer index went from ${b.first} back to 0; slots ${b.first} to ${ring.slots.slots - 1} hold no new message (unchanged or wiped) and are not taken for ${stale} new ones`,
      { monoNs: b.seenNs },
    );
    this.lastMove[b.ring] = b.seenNs;
    if (b.count > stale) this.take({ ...b, first: 0, count: b.count - stale, slots: b.slots.subarray(stale * ring.slots.slotSize) });
  }

  /**
   * spsc rings have no status word: a side that restarts just zeroes its producer index
   * (docs/amp-bus.md §4.1), which a tap reads as the producer running on to 0, i.e. N − P new
   * messages. Taken for a restart: a ring that had stood still, a batch that crosses index 0,
   * and every slot before 0 holding exactly what the monitor already knew it to hold (nothing
   * was written there) or zeroes (the side wiped its ring, as ours does: a message is never all
   * zeroes, its msg_size is at least the header). Returns how many slots of `b` are such
   * leftovers (0: none).
   */
  private staleAfterRestart(b: TapBatch): number {
    const bytes = this.slotBytes[b.ring];
    const { slots } = this.observed.rings[b.ring]!;
    const n = slots.slots;
    if (!bytes || b.lost > 0 || b.first === 0 || b.first + b.count < n || b.seenNs - this.lastMove[b.ring]! < RESTART_IDLE_NS) return 0;
    const stale = n - b.first;
    const size = slots.slotSize;
    for (let k = 0; k < stale; k++) {
      const slot = b.slots.subarray(k * size, (k + 1) * size);
      const known = bytes.subarray((b.first + k) * size, (b.first + k + 1) * size);
      if (!slot.every((x, j) => x === known[j]) && !slot.every((x) => x === 0)) return 0;
    }
    return stale;
  }

  private take(b: TapBatch): void {
    const ring = this.observed.rings[b.ring]!;
    const { recorder, revision } = this.opts;
    const dir = ring.direction;
    const i = dir === 'driver-to-device' ? 0 : 1;
    const from = b.previousLookNs ?? this.lastSeen[i]!;
    // The messages of earlier looks are recorded first, so a DROPPED or late-look note sits
    // between them and this batch's messages.
    if (this.look && this.look.seenNs !== b.seenNs) this.flush();
    if (b.unread) this.noteStall(i, b.unread);
    if (b.lost > 0) {
      this.counts.dropped[i] += b.lost;
      recorder.marker(
        'dropped',
        `${b.lost} ${ARROW[dir]} message${b.lost === 1 ? '' : 's'} lost: the producer reused their slots before the monitor copied them ` +
          `(producer index ${(b.first - b.lost + ring.slots.slots) % ring.slots.slots} to ${(b.first + ring.slots.slots - 1) % ring.slots.slots}, N = ${ring.slots.slots}), ` +
          `published between ${this.at(from)} and ${this.at(b.seenNs)} into the capture`,
        { monoNs: b.seenNs },
      );
    }
    this.lastSeen[i] = b.seenNs;
    // Batches of one look share its time: they are merged in protocol order (order.ts) once the
    // look is over (a batch of a later look, or the next macrotask).
    const look = (this.look ??= { seenNs: b.seenNs, down: [], up: [] });
    const into = i === 0 ? look.down : look.up;
    const size = ring.slots.slotSize;
    for (let k = 0; k < b.count; k++) into.push({ dir, bytes: slotMessage(b.slots.subarray(k * size, (k + 1) * size), revision).bytes });
    this.counts.messages[i] += b.count;
    if (b.count > 0) this.lastMove[b.ring] = b.seenNs;
    const known = this.slotBytes[b.ring];
    for (let k = 0; known && k < b.count; k++) known.set(b.slots.subarray(k * size, (k + 1) * size), ((b.first + k) % ring.slots.slots) * size);
    this.cancelFlush ??= this.opts.runtime.setTimer(0, () => this.flush());
  }

  /** Records the messages of the look in progress. */
  private flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
    const look = this.look;
    if (!look) return;
    this.look = null;
    for (const m of this.order.merge(look.down, look.up)) {
      this.opts.recorder.message(m.dir, m.bytes, look.seenNs);
      this.model.observe(m.dir, m.bytes);
    }
  }

  /**
   * A ring whose producer index went unread for STALL_NS or more around a batch (the host did
   * not run the monitor): wrapping indices cannot tell whether the producer lapped it meanwhile,
   * so the capture says the window in which a loss would have gone uncounted. At most one note a
   * second per ring; the pauses in between are said with the next note, or at stop.
   */
  private noteStall(i: number, u: Unread): void {
    if (u.toNs - u.fromNs < STALL_NS) return;
    const held = this.heldStalls[i];
    const all: Stalls = held
      ? { count: held.count + 1, fromNs: held.fromNs, toNs: u.toNs, longest: u.toNs - u.fromNs > held.longest.toNs - held.longest.fromNs ? u : held.longest }
      : { count: 1, fromNs: u.fromNs, toNs: u.toNs, longest: u };
    this.heldStalls[i] = all;
    if (u.toNs - this.lastStallNote[i]! >= 1_000_000_000n) this.sayStalls(i, all);
  }

  private sayStalls(i: number, s: Stalls): void {
    this.heldStalls[i] = null;
    this.lastStallNote[i] = s.toNs;
    const { direction, slots } = this.observed.rings[i]!;
    const n = slots.slots;
    const when =
      s.count === 1
        ? `between ${this.at(s.fromNs)} and ${this.at(s.toNs)}`
        : `for ${Number(STALL_NS) / 1e6} ms or more at least ${s.count} times between ${this.at(s.fromNs)} and ${this.at(s.toNs)}, the longest from ${this.at(s.longest.fromNs)} to ${this.at(s.longest.toNs)}`;
    this.opts.recorder.marker(
      'note',
      `the monitor could not look at the ${ARROW[direction]} ring ${when} (the host did not run it); ` +
        `had the producer published more than ${n - 1} messages in ${s.count === 1 ? 'that time' : 'one of those times'}, the ring's indices (N = ${n}) could not show it and they are missing without a DROPPED count`,
      { monoNs: s.toNs },
    );
  }

  private at(ns: bigint): string {
    return `${(Number(ns - (this.opts.startMonoNs ?? 0n)) / 1e6).toFixed(3)} ms`;
  }

  private problem(p: QueueProblem): void {
    const text = `${p.code} at bus offset ${hexNum(p.offset, 4)}: ${p.reason}`;
    if (!this.problems.includes(text)) this.problems.push(text);
    this.opts.recorder.marker('error', `monitor: ${text}`);
  }

  /** Non-empty when the bus was already in use: what the capture cannot contain. */
  private async joinedText(states: SideStates): Promise<string | null> {
    const { window } = this.opts;
    const parts: string[] = [];
    let used = states.running;
    for (const r of this.observed.rings) {
      const p = ((await window.load(r.producer.offset, r.producer.width)) & r.indexMask) >>> 0;
      const c = ((await window.load(r.consumer.offset, r.consumer.width)) & r.indexMask) >>> 0;
      if (p !== 0 || c !== 0) used = true;
      parts.push(`${ARROW[r.direction]} producer ${p}, consumer ${c}`);
    }
    if (!used) return null;
    const heads = states.driver !== null ? `; heads: driver ${states.driver}, device ${states.device}` : '';
    return (
      `joined mid-session: the bus was already in use (${parts.join('; ')}${heads}). Not seen: everything before this point — ` +
      'the queue handshake, GET_DEVICES and each device\'s bring-up (GET_DEVICE_INFO, features, status, config, SET_VQUEUE) — ' +
      'so device and queue state show only what is observed from here, and responses to requests sent before it are unmatched'
    );
  }

  private noteStates(s: SideStates): void {
    if (s.driver === null) return;
    const text = `heads: driver ${s.driver}, device ${s.device}`;
    if (text === this.lastStates) return;
    this.lastStates = text;
    this.opts.recorder.queueState(`monitor: ${text}`);
  }

  private watchStates(): void {
    if (!this.running) return;
    this.stopState = this.opts.runtime.setTimer(this.opts.statePollMs ?? 20, () => {
      void this.observed.states().then(
        async (s) => {
          this.noteStates(s);
          if (s.reset && this.running) {
            // The side's producer index restarts at 0: follow the rings afresh from where they are now.
            this.restarting = (async () => {
              await this.tap.stop();
              this.opts.recorder.marker('note', `monitor: a side re-initialised its queue head (${this.lastStates}); following the rings afresh`);
              if (this.running) this.follow();
            })();
            await this.restarting;
            this.restarting = null;
          }
          this.watchStates();
        },
        (e: unknown) => {
          this.problems.push(`reading the queue heads failed: ${errorText(e)}`);
        },
      );
    });
  }
}

