/**
 * The passive monitor's RingTap through the serial bridge (main/bridge-agent/PROTOCOL.md 3.3):
 * the agent on the board follows the producer indices itself and keeps every slot it copied
 * until this reads it, so a slow line delays messages instead of losing the ones a fast bus
 * would overwrite. Entries are pulled with TAP_READ, which is retransmitted like any request and
 * repeated with the same `from` after a failure: a line error loses nothing.
 */
import { queueProblem } from '../bus/formats/common';
import type { QueueProblem } from '../bus/queue';
import { tapIndexProblem, type RingTap, type TapBatch, type TapRing } from '../bus/tap';
import { errorText } from '../util/errorText';
import type { Runtime } from '../util/runtime';
import { BridgeError, type BridgeClient } from './client';
import { NO_BAD_INDEX, STATUS, type TapEntries } from './protocol';

export interface BridgeTapOptions {
  runtime: Runtime;
  /** Agent address of offset 0 of the window the TapRings' offsets are in (the bus window's BridgeWindow.base). */
  base: bigint;
  /** How often the agent looks at idle rings, in µs; 0 = the agent's own period. Default 20. */
  intervalUs?: number;
  /** Wait before asking again after a reply without entries. Default 2 ms. */
  idleMs?: number;
}

/** Looks remembered for giving entries of one look the same host time across replies. */
const LOOKS_KEPT = 256;

export class BridgeRingTap implements RingTap {
  private loop: Promise<void> | null = null;
  private running = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly client: BridgeClient,
    private readonly opts: BridgeTapOptions,
  ) {}

  start(rings: readonly TapRing[], onBatch: (batch: TapBatch) => void, onProblem: (problem: QueueProblem) => void): void {
    if (this.loop) throw new Error('BridgeRingTap.start: already started; stop() it first');
    this.running = true;
    this.loop = new Follow(this.client, this.opts, rings, onBatch, onProblem).run(
      () => this.running,
      (wake) => (this.wake = wake),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = null;
  }
}

/** One start()…stop() of the tap. */
class Follow {
  /** Agent ring k is TapRing order[k]: device→driver first, as the agent looks at ring 0 first. */
  private readonly order: number[];
  private readonly slotSize: number;
  /** Per agent ring: the producer index after its last entry, and its bad index last reported. */
  private readonly next: number[];
  private readonly reportedBad: number[];
  /** Host times of the agent's looks seen so far (seen_us → ns), and the latest one given. */
  private readonly looks = new Map<number, bigint>();
  private lastNs: bigint | null = null;
  /** The agent's clock at its last answer, unwrapped (µs), and host ns minus agent ns as best known. */
  private agentUs = 0n;
  private lastNowUs: number | null = null;
  private offsetNs: bigint | null = null;
  private from = 0;

  constructor(
    private readonly client: BridgeClient,
    private readonly opts: BridgeTapOptions,
    private readonly rings: readonly TapRing[],
    private readonly onBatch: (batch: TapBatch) => void,
    private readonly onProblem: (problem: QueueProblem) => void,
  ) {
    const rank = (r: TapRing): number => (r.direction === 'device-to-driver' ? 0 : 1);
    this.order = rings.map((_, i) => i).sort((a, b) => rank(rings[a]!) - rank(rings[b]!) || a - b);
    this.slotSize = rings[0]?.slots.slotSize ?? 0;
    this.next = this.order.map(() => 0);
    this.reportedBad = this.order.map(() => NO_BAD_INDEX);
  }

  /** Never rejects: what goes wrong is a QueueProblem, or the link's own loss when the line is gone. */
  async run(running: () => boolean, onWake: (wake: () => void) => void): Promise<void> {
    if (this.rings.length === 0) return;
    const other = this.rings.find((r) => r.slots.slotSize !== this.slotSize);
    if (other) {
      this.problem('layout', other, `the bridge agent taps rings of one slot size only; these have ${this.slotSize} and ${other.slots.slotSize} bytes`);
      return;
    }
    if (!(await this.arm())) return;
    while (running() && !this.client.closed) {
      const got = await this.read();
      if (got === null) return;
      if (got === 0 && running()) await this.idle(onWake);
    }
    await this.finish();
  }

  private async arm(): Promise<boolean> {
    const { base, intervalUs = 20 } = this.opts;
    for (let k = 0; k < this.order.length; k++) {
      const r = this.rings[this.order[k]!]!;
      try {
        const started = await this.client.tap({
          ring: k,
          width: r.producer.width,
          slots: r.slots.slots,
          slotSize: r.slots.slotSize,
          stride: r.slots.stride,
          indexMask: r.indexMask,
          intervalUs,
          producer: base + BigInt(r.producer.offset),
          slotsAddr: base + BigInt(r.slots.offset),
        });
        this.next[k] = started.index < r.slots.slots ? started.index : 0;
      } catch (e) {
        if (!this.client.closed) this.failed(e, r, 'cannot tap');
        if (k > 0 && !this.client.closed) await this.client.untap().catch(() => undefined);
        return false;
      }
    }
    return true;
  }

  /** One TAP_READ: the number of entries delivered, or null when following must end. A timeout is asked again. */
  private async read(): Promise<number | null> {
    const sent = this.opts.runtime.monoNs();
    try {
      const e = await this.client.tapRead(this.from, this.slotSize);
      this.clock(e.nowUs, sent, this.opts.runtime.monoNs());
      this.deliver(e);
      return e.lost.length;
    } catch (e) {
      if (e instanceof BridgeError && e.kind === 'timeout') return 0;
      if (!this.client.closed) this.failed(e, this.rings[this.order[0]!]!, 'stopped reading the tapped rings');
      return null;
    }
  }

  /** After stop(): the agent's last look, every entry it still holds, and what was lost after the last ones. */
  private async finish(): Promise<void> {
    if (this.client.closed) return;
    try {
      const { end, lost } = await this.client.untap();
      for (let tries = 0; this.from !== end && tries < 3; ) {
        const got = await this.read();
        if (got === null) return;
        tries = got === 0 ? tries + 1 : 0;
      }
      const seenNs = this.opts.runtime.monoNs();
      lost.forEach((n, k) => {
        if (n > 0 && k < this.order.length) this.onBatch({ ring: this.order[k]!, first: this.next[k]!, count: 0, lost: n, seenNs, slots: new Uint8Array(0) });
      });
    } catch (e) {
      if (!this.client.closed) this.failed(e, this.rings[this.order[0]!]!, 'could not stop tapping');
    }
  }

  private deliver(e: TapEntries): void {
    e.badIndex.forEach((bad, k) => {
      if (k >= this.order.length || bad === this.reportedBad[k]) return;
      this.reportedBad[k] = bad;
      if (bad !== NO_BAD_INDEX) this.onProblem(tapIndexProblem(this.rings[this.order[k]!]!, bad));
    });
    const size = this.slotSize;
    const count = e.lost.length;
    for (let i = 0; i < count; ) {
      const k = e.ring[i]!;
      const ring = this.rings[this.order[k]!];
      if (!ring) {
        this.problem('layout', this.rings[0]!, `the bridge agent sent an entry of ring ${k}, which was not tapped`);
        i++;
        continue;
      }
      const n = ring.slots.slots;
      let j = i + 1;
      while (j < count && e.ring[j] === k && e.seenUs[j] === e.seenUs[i] && e.lost[j] === 0 && e.index[j] === (e.index[j - 1]! + 1) % n) j++;
      this.onBatch({
        ring: this.order[k]!,
        first: e.index[i]!,
        count: j - i,
        lost: e.lost[i]!,
        seenNs: this.hostTime(e.seenUs[i]!, e.nowUs),
        slots: e.slots.subarray(i * size, j * size),
      });
      this.next[k] = (e.index[j - 1]! + 1) % n;
      i = j;
    }
    this.from = (this.from + count) >>> 0;
  }

  /**
   * The agent answered at `nowUs` (its clock) after the request was sent (`sentNs`) and before
   * the reply arrived (`rxNs`): host − agent lies between those bounds. The largest lower bound
   * seen so far (the answer that came soonest after its request) is the estimate, kept under
   * this answer's upper bound.
   */
  private clock(nowUs: number, sentNs: bigint, rxNs: bigint): void {
    this.agentUs = this.lastNowUs === null ? BigInt(nowUs) : this.agentUs + BigInt((nowUs - this.lastNowUs) >>> 0);
    this.lastNowUs = nowUs;
    const agentNs = this.agentUs * 1000n;
    const low = sentNs - agentNs;
    const high = rxNs - agentNs;
    this.offsetNs = this.offsetNs === null || low > this.offsetNs ? low : this.offsetNs;
    if (this.offsetNs > high) this.offsetNs = high;
  }

  /** The host time of the agent's look at `seenUs`. A look already seen keeps its time, so its entries of different rings stay one look; times never go back. */
  private hostTime(seenUs: number, nowUs: number): bigint {
    let ns = this.looks.get(seenUs);
    if (ns === undefined) {
      ns = (this.agentUs - BigInt((nowUs - seenUs) >>> 0)) * 1000n + (this.offsetNs ?? 0n);
      if (this.lastNs !== null && ns < this.lastNs) ns = this.lastNs;
      this.looks.set(seenUs, ns);
      if (this.looks.size > LOOKS_KEPT) this.looks.delete(this.looks.keys().next().value!);
    }
    this.lastNs = ns;
    return ns;
  }

  private idle(onWake: (wake: () => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.opts.runtime.setTimer(this.opts.idleMs ?? 2, resolve);
      onWake(() => {
        cancel();
        resolve();
      });
    });
  }

  private failed(e: unknown, ring: TapRing, what: string): void {
    const old = e instanceof BridgeError && e.kind === 'status' && e.status === STATUS.UNSUPPORTED_OPCODE;
    const why = old ? 'this agent has no ring taps (PROTOCOL.md 3.3); update it from main/bridge-agent' : errorText(e);
    this.problem(e instanceof BridgeError && e.kind === 'timeout' ? 'timeout' : 'layout', ring, `the bridge agent ${what}: ${why}`);
  }

  private problem(code: QueueProblem['code'], ring: TapRing, reason: string): void {
    this.onProblem(queueProblem(code, ring.producer.offset, reason));
  }
}
