/**
 * The one send/receive engine behind every queue format (docs/amp-bus.md §4): two single-producer /
 * single-consumer rings of N fixed slots, one slot always empty, indices in [0, N) that wrap.
 * A format only says where the slots and the four indices live, how to publish its own indices
 * and what to do with an out-of-range peer index; the engine does the rest:
 *
 * - acquire/release (§4.5): the peer index is read with `load` before any slot is read; slot
 *   bytes are written before the own index is `store`d (issued in that order, never reordered);
 * - a sender zero-fills the rest of each slot; a receiver copies whole slots (private copies);
 * - batches: contiguous slots go out in at most two `write`s (wrap) and one index store; a
 *   receive reads the peer index once and all pending slots in at most two `read`s;
 * - the peer's consumer index is cached ("cached_tail") and reloaded only when the ring looks full;
 * - faults are values: a bad peer index or peer state becomes a QueueProblem, reported once;
 * - the peer's state (where the format has one) is read after every producer index that moved
 *   and when the ring is idle, so an index a restarting peer zeroed is never taken for messages;
 * - nothing published is lost: once the queue stops (the peer's state, or our own shutdown),
 *   receives still copy out every message up to the producer index as last read (read once
 *   more after a peer stop that keeps it, validated like any other), then report why it stopped.
 */
import type { AccessWidth, MemoryWindow } from '../window';
import type { BusRole, MessageQueue, QueueFormat, QueueProblem, QueueState } from '../queue';
import { queueProblem, Serial } from './common';
import { hexNum } from '../../util/hex';

/** Where one index lives: window offset and access width. */
export interface IndexCell {
  offset: number;
  width: AccessWidth;
}

/** What to do with a peer index ≥ N: spsc-v1 reduces it modulo N, spsc-v0 replaces it by 0, vmamp/OA refuse it. */
export type PeerIndexPolicy = 'modulo' | 'zero' | 'reject';

/** One direction's slot array. `stride` differs from `slotSize` only for the OA stride quirk. */
export interface SlotArray {
  offset: number;
  /** N of this direction. */
  slots: number;
  slotSize: number;
  stride: number;
}

export interface RingSpec {
  format: QueueFormat;
  role: BusRole;
  window: MemoryWindow;
  /** Added to window offsets when a problem names a place (the window's position in the bus window). */
  problemBase: number;
  /** At most this many messages in flight in our direction (N − 1, or 1 with the OA stride quirk). */
  maxInFlight: number;
  tx: SlotArray;
  rx: SlotArray;
  /** Producer index of the ring we consume, written by the peer. */
  peerProducer: IndexCell;
  /** Consumer index of the ring we produce, written by the peer. */
  peerConsumer: IndexCell;
  /** Applied to raw peer index values (OA handles indices as u8). */
  indexMask: number;
  policy: PeerIndexPolicy;
  /**
   * Publishes an own index. Must issue its window call(s) synchronously (no await before the
   * first one), so that a send can pipeline slot writes and the index store in order.
   */
  publish(which: 'producer' | 'consumer', producer: number, consumer: number): Promise<void>;
  /**
   * Checks the peer's state when the ring looks idle; a stop ('peer-state' problem) stops the
   * queue. `indicesKept`: whether the peer's producer index still counts what it published (a
   * peer that stops keeps it; one that restarts or wipes its head zeroes it, docs/amp-bus.md §4.2).
   */
  checkPeer?(): Promise<PeerStop | null>;
  /** Orderly stop of this side (vmamp: own status SHUTDOWN, OA: READY cleared). */
  shutdown?(): Promise<void>;
  /** MessageQueue.withdraw: the device's layout magic zeroed. */
  withdraw?(): Promise<void>;
  /** Indices of both directions and status words, read from memory. */
  cells: { d2dProducer: IndexCell; d2dConsumer: IndexCell; dev2drvProducer: IndexCell; dev2drvConsumer: IndexCell };
  statusNames?(): Promise<{ own: string; peer: string }>;
}

export interface PeerStop {
  problem: QueueProblem;
  indicesKept: boolean;
}

export class RingQueue implements MessageQueue {
  readonly format: QueueFormat;
  readonly role: BusRole;
  readonly slotSize: number;
  readonly capacity: number;
  fault: QueueProblem | undefined;

  private readonly w: MemoryWindow;
  /** N of the ring we produce into and of the ring we consume from. */
  private readonly nTx: number;
  private readonly nRx: number;
  private producer: number;
  private consumer: number;
  private cachedPeerConsumer: number;
  private cachedPeerProducer: number;
  private readonly txLock = new Serial();
  private readonly rxLock = new Serial();
  private readonly stage: Uint8Array;
  private readonly pending: QueueProblem[] = [];
  private lastRaised = '';
  private stopped = false;
  /**
   * Once the queue stops: the producer index receives still read up to (the one last read when
   * the reload is refused). `drained` is set when it is reached and the fault, if any, reported.
   */
  private finalProducer: number | undefined;
  private peerIndicesKept = false;
  private drained = false;
  private readonly reportedCells = new Map<number, number>();
  private reportedBackwards: number | null = null;

  constructor(
    private readonly spec: RingSpec,
    start: { producer: number; consumer: number; peerProducer: number; peerConsumer: number } = {
      producer: 0,
      consumer: 0,
      peerProducer: 0,
      peerConsumer: 0,
    },
  ) {
    this.format = spec.format;
    this.role = spec.role;
    this.slotSize = spec.tx.slotSize;
    this.capacity = spec.maxInFlight;
    this.w = spec.window;
    this.nTx = spec.tx.slots;
    this.nRx = spec.rx.slots;
    this.producer = start.producer;
    this.consumer = start.consumer;
    this.cachedPeerProducer = start.peerProducer;
    this.cachedPeerConsumer = start.peerConsumer;
    this.stage = new Uint8Array(this.nTx * spec.tx.slotSize);
  }

  send(message: Uint8Array): Promise<'ok' | 'full'> {
    return this.sendBatch([message]).then((k) => (k === 1 ? 'ok' : 'full'));
  }

  sendBatch(messages: readonly Uint8Array[]): Promise<number> {
    const size = this.spec.tx.slotSize;
    for (const m of messages) {
      if (m.length === 0 || m.length > size) {
        throw new RangeError(`message of ${m.length} bytes does not fit a ${size}-byte ${this.format} slot`);
      }
    }
    if (messages.length === 0) return Promise.resolve(0);
    return this.txLock.run(() => this.place(messages));
  }

  private async place(messages: readonly Uint8Array[]): Promise<number> {
    if (this.fault || this.stopped) return 0;
    let free = this.free(this.cachedPeerConsumer);
    if (free < messages.length) {
      const c = await this.loadPeer(this.spec.peerConsumer, 'consumer', this.nTx);
      if (c === null) return 0;
      this.cachedPeerConsumer = c;
      free = this.free(c);
      if (free === 0) await this.checkPeer();
    }
    const k = Math.min(free, messages.length);
    if (k === 0 || this.fault) return 0;

    const { offset, slotSize, stride } = this.spec.tx;
    const t = this.producer;
    const stage = this.stage;
    for (let i = 0; i < k; i++) {
      const m = messages[i]!;
      const at = i * slotSize;
      stage.set(m, at);
      stage.fill(0, at + m.length, at + slotSize);
    }
    const calls: Promise<void>[] = [];
    if (stride === slotSize) {
      const first = Math.min(k, this.nTx - t);
      calls.push(this.w.write(offset + t * stride, stage.subarray(0, first * slotSize)));
      if (k > first) calls.push(this.w.write(offset, stage.subarray(first * slotSize, k * slotSize)));
    } else {
      for (let i = 0; i < k; i++) {
        const at = i * slotSize;
        calls.push(this.w.write(offset + ((t + i) % this.nTx) * stride, stage.subarray(at, at + slotSize)));
      }
    }
    // Release: the index store is issued after the slot writes (MemoryWindow orders them).
    this.producer = (t + k) % this.nTx;
    calls.push(this.spec.publish('producer', this.producer, this.consumer));
    await Promise.all(calls);
    return k;
  }

  private free(peerConsumer: number): number {
    const inFlight = (this.producer - peerConsumer + this.nTx) % this.nTx;
    return Math.max(0, this.spec.maxInFlight - inFlight);
  }

  recv(max = Number.POSITIVE_INFINITY): Promise<{ messages: Uint8Array[]; problem?: QueueProblem }> {
    return this.rxLock.run(() => this.take(max));
  }

  private async take(max: number): Promise<{ messages: Uint8Array[]; problem?: QueueProblem }> {
    const messages: Uint8Array[] = [];
    if (this.drained || !(max > 0)) return this.result(messages);
    const n = this.nRx;
    const h = this.consumer;
    let p = this.cachedPeerProducer;
    if (!this.fault && !this.stopped) {
      const trusted = p;
      if ((p - h + n) % n < max) {
        // A refused index leaves the one last read, whose messages are still read.
        const loaded = await this.loadPeer(this.spec.peerProducer, 'producer', n);
        if (loaded !== null) p = loaded;
      }
      // The peer's state is read after an index that moved (acquire order): a peer that restarts
      // or wipes its head changes its state before it zeroes its index, so an index followed by
      // a running state, or by a reset one and not zero, is one it published. An idle ring is
      // where a stop is noticed.
      if (p !== trusted || p === h) await this.checkPeer();
      if (this.fault && !this.peerIndicesKept && p === 0) p = trusted;
      this.cachedPeerProducer = p;
    }
    if (this.fault || this.stopped) {
      // A peer publishes its last messages before it changes state, so where it kept its
      // producer index, that is read once more after the change was seen (acquire order: state,
      // then index); a peer that reset it leaves the index last read as the last to trust.
      if (this.finalProducer === undefined) {
        const reread = this.fault && this.peerIndicesKept ? await this.loadPeer(this.spec.peerProducer, 'producer', n) : null;
        this.finalProducer = reread ?? p;
      }
      p = this.finalProducer;
      if (p === h) {
        this.drained = true;
        if (this.fault) this.pending.push(this.fault);
        return this.result(messages);
      }
    }
    const count = Math.min((p - h + n) % n, max);
    if (count === 0) return this.result(messages);

    const { offset, slotSize, stride } = this.spec.rx;
    if (stride === slotSize) {
      const first = Math.min(count, n - h);
      const reads = [this.w.read(offset + h * stride, first * slotSize)];
      if (count > first) reads.push(this.w.read(offset, (count - first) * slotSize));
      for (const chunk of await Promise.all(reads)) {
        for (let at = 0; at < chunk.length; at += slotSize) messages.push(chunk.subarray(at, at + slotSize));
      }
    } else {
      const reads: Promise<Uint8Array>[] = [];
      for (let i = 0; i < count; i++) reads.push(this.w.read(offset + ((h + i) % n) * stride, slotSize));
      messages.push(...(await Promise.all(reads)));
    }
    // The copies are complete before the consumer index frees the slots for the peer.
    this.consumer = (h + count) % n;
    await this.spec.publish('consumer', this.producer, this.consumer);
    return this.result(messages);
  }

  private result(messages: Uint8Array[]): { messages: Uint8Array[]; problem?: QueueProblem } {
    const problem = this.pending.shift();
    return problem ? { messages, problem } : { messages };
  }

  /** Loads a peer index and applies the format's policy; null when it must not be used. */
  private async loadPeer(cell: IndexCell, which: 'producer' | 'consumer', n: number): Promise<number | null> {
    const raw = ((await this.w.load(cell.offset, cell.width)) & this.spec.indexMask) >>> 0;
    if (raw < n && which === 'producer' && this.movedBackwards(raw, cell)) return null;
    if (raw < n) {
      if (this.spec.policy === 'reject') this.reportedCells.delete(cell.offset);
      return raw;
    }
    const policy = this.spec.policy;
    const seen = this.reportedCells.get(cell.offset);
    const report = policy === 'reject' ? seen !== raw : seen === undefined;
    if (report) {
      this.reportedCells.set(cell.offset, raw);
      const action =
        policy === 'modulo' ? `using ${raw % n} (modulo N, as the peer would)`
        : policy === 'zero' ? 'using 0 (as the peer would)'
        : 'not using it: no message is read or written until it is back in range';
      this.raise(
        queueProblem(
          'peer-index',
          this.spec.problemBase + cell.offset,
          `peer ${which} index ${raw} at ${hexNum(this.spec.problemBase + cell.offset, 4)} is outside 0..${n - 1} (N = ${n}); ${action}`,
        ),
      );
    }
    if (policy === 'modulo') return raw % n;
    if (policy === 'zero') return 0;
    return null;
  }

  /**
   * A producer index behind the one last read (fewer messages waiting than already published)
   * would make the ring look almost full of slots nobody wrote: refused, reported once, and
   * refused for as long as it stays there (once our consumer passed it, it would look ahead).
   */
  private movedBackwards(raw: number, cell: IndexCell): boolean {
    const n = this.nRx;
    const h = this.consumer;
    const known = (this.cachedPeerProducer - h + n) % n;
    if (raw === this.reportedBackwards) return true;
    if ((raw - h + n) % n >= known) {
      this.reportedBackwards = null;
      return false;
    }
    this.reportedBackwards = raw;
    const at = this.spec.problemBase + cell.offset;
    this.raise(
      queueProblem(
        'peer-index',
        at,
        `peer producer index ${raw} at ${hexNum(at, 4)} moved backwards from ${this.cachedPeerProducer} (consumer at ${h}, N = ${n}); not using it: only the ${known} message(s) published up to ${this.cachedPeerProducer} are read`,
      ),
    );
    return true;
  }

  private async checkPeer(): Promise<void> {
    if (!this.spec.checkPeer) return;
    const stop = await this.spec.checkPeer();
    // Reported by the receive that finds nothing more published (see take).
    if (stop && !this.fault) {
      this.fault = stop.problem;
      this.peerIndicesKept = stop.indicesKept;
    }
  }

  /** Queues a problem for the next recv, once per distinct problem. */
  private raise(problem: QueueProblem): void {
    const key = `${problem.code}@${problem.offset}:${problem.reason}`;
    if (key === this.lastRaised) return;
    this.lastRaised = key;
    this.pending.push(problem);
  }

  async withdraw(): Promise<void> {
    await this.spec.withdraw?.();
  }

  /** Stops this side: later sends place nothing, later receives read only what was published up to the index last read. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.txLock.run(() => this.rxLock.run(async () => this.spec.shutdown?.()));
  }

  async state(): Promise<QueueState> {
    const { cells, indexMask } = this.spec;
    const get = async (c: IndexCell): Promise<number> => ((await this.w.load(c.offset, c.width)) & indexMask) >>> 0;
    const [a, b, c, d, names] = await Promise.all([
      get(cells.d2dProducer),
      get(cells.d2dConsumer),
      get(cells.dev2drvProducer),
      get(cells.dev2drvConsumer),
      this.spec.statusNames?.(),
    ]);
    const state: QueueState = {
      format: this.format,
      capacity: this.capacity,
      slotSize: this.slotSize,
      driverToDevice: { producer: a, consumer: b },
      deviceToDriver: { producer: c, consumer: d },
    };
    if (names) {
      state.ownStatus = names.own;
      state.peerStatus = names.peer;
    }
    return state;
  }
}
