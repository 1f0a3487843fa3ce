/**
 * The bus engine's view of a board reached through the serial bridge: a MemoryWindow over a
 * range of the agent's address space, and doorbells over NOTIFY/STORE (out) and watched words
 * (in). Accesses are batched: a read or write of a range is one request, split only where it
 * exceeds the agent's maximum payload.
 */
import type { DoorbellIn, DoorbellOut } from '../bus/link';
import { checkRange, type AccessWidth, type MemoryWindow } from '../bus/window';
import type { Runtime } from '../util/runtime';
import type { BridgeClient } from './client';
import type { BridgeWidth, WatchEvent } from './protocol';

function checkAligned(offset: number, width: number): void {
  if (offset % (width / 8) !== 0) throw new RangeError(`${width}-bit access at unaligned offset ${offset}`);
}

/** [offset, offset + size) of the agent's address space starting at bridge address `base`. */
export class BridgeWindow implements MemoryWindow {
  constructor(
    private readonly client: BridgeClient,
    readonly base: bigint,
    readonly size: number,
    /** Width of the accesses a READ/WRITE makes: 0 lets the agent choose (widest aligned); 32 for register-only regions. */
    private readonly copyWidth: BridgeWidth = 0,
  ) {}

  /** Chunk limit: the agent's payload limit, kept a multiple of 4 so chunks stay word-aligned. */
  private chunk(limit: number): number {
    return limit & ~3;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const step = this.chunk(this.client.maxRead);
    if (length <= step) return this.client.read(this.base + BigInt(offset), length, this.copyWidth);
    const parts: Promise<Uint8Array>[] = [];
    for (let at = 0; at < length; at += step) parts.push(this.client.read(this.base + BigInt(offset + at), Math.min(step, length - at), this.copyWidth));
    const out = new Uint8Array(length);
    (await Promise.all(parts)).forEach((p, i) => out.set(p, i * step));
    return out;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    const step = this.chunk(this.client.maxWrite);
    const parts: Promise<void>[] = [];
    for (let at = 0; at < data.length; at += step) parts.push(this.client.write(this.base + BigInt(offset + at), data.subarray(at, at + step), this.copyWidth));
    await Promise.all(parts);
  }

  load(offset: number, width: AccessWidth): Promise<number> {
    checkRange(this, offset, width / 8);
    checkAligned(offset, width);
    return this.client.load(this.base + BigInt(offset), width);
  }

  store(offset: number, width: AccessWidth, value: number): Promise<void> {
    checkRange(this, offset, width / 8);
    checkAligned(offset, width);
    return this.client.store(this.base + BigInt(offset), width, value);
  }

  fence(): Promise<void> {
    return this.client.fence();
  }
}

/** A register write the host makes through the bridge (a doorbell, or an interrupt acknowledge). */
export interface BridgeRegisterWrite {
  addr: bigint;
  width: 8 | 16 | 32;
  value: number;
}

/**
 * Doorbell out: NOTIFY a line the agent was configured with (it fences, then performs its own
 * register write), or a STORE to a doorbell register the host names (the agent fences before
 * every STORE, so queue writes are visible first: docs/amp-bus.md §9.2 "a barrier before NOTIFY").
 */
export class BridgeDoorbellOut implements DoorbellOut {
  constructor(
    private readonly client: BridgeClient,
    private readonly how: { kind: 'notify'; line: number; value: number } | ({ kind: 'store' } & BridgeRegisterWrite),
  ) {}
  ring(): Promise<void> {
    const h = this.how;
    return h.kind === 'notify' ? this.client.notify(h.line, h.value) : this.client.store(h.addr, h.width, h.value);
  }
}

export interface WatchSpec {
  slot: number;
  addr: bigint;
  width: 8 | 16 | 32;
  /** Bits that matter: the agent raises an EVENT when (word & mask) changes. */
  mask: number;
  /** Agent poll period for this word; 0 = the agent's own. */
  intervalUs?: number;
  /** Writes that acknowledge the peer's ring (e.g. clear an IPCC flag), made when a masked bit is set. */
  ack?: BridgeRegisterWrite[];
  /**
   * Re-read the word this often while subscribed. An EVENT lost to a line error is not resent,
   * so this bounds how long a lost ring can go unnoticed.
   */
  resyncMs: number;
}

/**
 * Doorbell in from a watched word: the agent polls it and reports changes as EVENT frames; each
 * change (from an EVENT or the periodic re-read) is one ring, coalesced for the listeners.
 */
export class BridgeDoorbellIn implements DoorbellIn {
  readonly mode = 'interrupt' as const;
  private readonly listeners = new Set<() => void>();
  private cancelResync: (() => void) | null = null;
  private resyncing = false;
  private readonly offEvent: () => void;
  private closed = false;
  /** Rings seen (EVENT or re-read), for diagnostics. */
  rings = 0;

  private constructor(
    private readonly client: BridgeClient,
    private readonly spec: WatchSpec,
    private readonly runtime: Runtime,
    private last: number,
  ) {
    this.offEvent = client.onEvent((e: WatchEvent) => {
      if (e.slot === spec.slot) this.seen(e.value);
    });
  }

  /** Arms the watch on the agent; the word's current value is the baseline. */
  static async start(client: BridgeClient, spec: WatchSpec, runtime: Runtime): Promise<BridgeDoorbellIn> {
    const value = await client.watch(spec.slot, spec.addr, spec.width, spec.mask, spec.intervalUs ?? 0);
    const d = new BridgeDoorbellIn(client, spec, runtime, value);
    // A peer that rang before we watched (flag already set) still needs its acknowledge.
    if ((value & spec.mask) !== 0) d.acknowledge();
    return d;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.cancelResync) this.scheduleResync();
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.offEvent();
    this.cancelResync?.();
    this.cancelResync = null;
  }

  /**
   * A change is a ring. With acknowledges (a flag the peer sets and we clear), a flag found still
   * set by the re-read is one too: either our acknowledge failed, or the EVENTs of a clear and a
   * new set were both lost; acknowledging again and draining is harmless either way.
   */
  private seen(value: number, reread = false): void {
    const masked = (value & this.spec.mask) >>> 0;
    const pendingFlag = reread && masked !== 0 && (this.spec.ack?.length ?? 0) > 0;
    if (masked === this.last && !pendingFlag) return;
    this.last = masked;
    this.rings++;
    if (masked !== 0) this.acknowledge();
    for (const l of this.listeners) l();
  }

  /** Queued before whatever the listeners read, so the agent acknowledges first. A failed one is redone by the re-read. */
  private acknowledge(): void {
    for (const a of this.spec.ack ?? []) this.client.store(a.addr, a.width, a.value).catch(() => undefined);
  }

  private scheduleResync(): void {
    this.cancelResync = this.runtime.setTimer(this.spec.resyncMs, () => {
      this.cancelResync = null;
      if (this.closed || this.client.closed || this.listeners.size === 0) return;
      // One re-read at a time: on a slow or failing line they would otherwise queue up behind
      // each other and delay every real bus operation. A failed one is retried next period.
      if (!this.resyncing) {
        this.resyncing = true;
        this.client
          .load(this.spec.addr, this.spec.width)
          .then(
            (v) => this.seen(v, true),
            () => undefined,
          )
          .finally(() => {
            this.resyncing = false;
          });
      }
      this.scheduleResync();
    });
  }
}
