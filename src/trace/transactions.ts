/**
 * Transactions over a capture, built record by record in capture order so a 20 M-record trace is
 * indexed in one streaming pass and any page of it is read back through the source's block index:
 *
 * - a request transaction is a request with what ended it: its response (latency from the
 *   recorder's matcher, docs/protocol.md §7), the NO_RESPONSE marker of its timeout, or a late
 *   response after that marker. The index keeps the position of the ending record; the request is
 *   found from its pairSeq when a page is read.
 * - a virtqueue operation is what the driver and device did for buffers made available on one
 *   virtqueue (docs/protocol.md §10): the EVENT_AVAIL that announced them, the EVENT_USED that said
 *   they were used, and the vq-index record where the driver saw used.idx reach the avail.idx it
 *   had published when it notified (the used entries). Its latency runs from EVENT_AVAIL to those
 *   used entries (to EVENT_USED while they are not yet seen): a workload operation's latency, where
 *   the request statistics see only bring-up requests.
 *
 * Memory: 4 bytes per request transaction; 72 bytes per virtqueue operation plus 8 per completed
 * one for its latency; a few numbers per virtqueue.
 */
import { lookupMessage, REVISIONS } from '../protocol/index';
import { MARKER_KINDS, RECORD_FLAGS, RECORD_KINDS, timeBase, type RecordView, type TimeBase } from './record';
import { isMessageSlot, nameSlot, NAME_SLOTS } from './names';
import { latencyStats, Samples, type LatencyStats } from './stats';
import { vqIndexes } from './conformance';

// Module-local copies, as in recorder.ts: under a CommonJS transpile every imported binding is a getter call.
const slotOf = nameSlot;
const indexesOf = vqIndexes;
const KIND_MESSAGE = RECORD_KINDS.indexOf('message');
const KIND_VQ_INDEX = RECORD_KINDS.indexOf('vq-index');
const KIND_MARKER = RECORD_KINDS.indexOf('marker');
const MARKER_NO_RESPONSE = MARKER_KINDS.indexOf('no-response');
const F_RESPONSE = RECORD_FLAGS.response;
const F_EVENT = RECORD_FLAGS.event;

const AVAIL = 1;
const USED = 2;
/** Per name slot: AVAIL or USED for the virtqueue notifications, and where their queue index lies in the message. */
const NOTIFY_ROLE = new Uint8Array(NAME_SLOTS.length);
const NOTIFY_QUEUE_AT = new Int16Array(NAME_SLOTS.length).fill(-1);
for (let slot = 0; slot < NAME_SLOTS.length; slot++) {
  if (!isMessageSlot(slot)) continue;
  const name = NAME_SLOTS[slot];
  if (name !== 'EVENT_AVAIL' && name !== 'EVENT_USED') continue;
  const d = lookupMessage(REVISIONS[slot >> 9]!, (slot & 256) !== 0, slot & 0xff);
  const at = d.layouts.event?.fields[0]?.offset;
  if (at === undefined) continue;
  NOTIFY_ROLE[slot] = name === 'EVENT_AVAIL' ? AVAIL : USED;
  NOTIFY_QUEUE_AT[slot] = at;
}

/** A growable list of record positions (below 2^32, as the trace store's filtered views keep them). */
class Positions {
  data = new Uint32Array(1024);
  length = 0;
  push(p: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint32Array(this.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = p;
  }
}

interface QueueTrack {
  dev: number;
  queue: number;
  /** avail.idx and used.idx as the last vq-index record showed them; -1 before the first. */
  avail: number;
  used: number;
  /** Operations not yet given their used entries, oldest first, from `head`. */
  pending: number[];
  head: number;
  /** Operations whose EVENT_USED is still to come, oldest first, from `usedHead`. */
  awaitingUsed: number[];
  usedHead: number;
  latency: Samples;
  ops: number;
}

/** One virtqueue operation as positions in the trace (-1: not seen), with its times in ns from the capture start. */
export interface QueueOperation {
  dev: number;
  queue: number;
  availPosition: number;
  eventUsedPosition: number;
  usedEntryPosition: number;
  /** Used entries the driver collected in the step that completed it (0 until then). */
  entries: number;
  availNs: number;
  /** When it completed (its used entries, else its EVENT_USED); null while in flight. */
  doneNs: number | null;
}

/**
 * A finished index as arrays (an analysis saved with its capture, main/host/trace/analysisFile.ts):
 * the request ends, each operation's columns (its position columns -1 for not seen), and the
 * queue latency as computed. Restored, it answers pages and latency; it takes no more records.
 */
export interface TransactionSnapshot {
  ends: Uint32Array<ArrayBuffer>;
  /** The columns of OPERATION_COLUMNS, each `operations` long. */
  columns: Float64Array<ArrayBuffer>[];
  queueLatency: QueueLatency[];
}

/** The per-operation columns a snapshot keeps, in order. */
export const OPERATION_COLUMNS = ['dev', 'queue', 'avail', 'eventUsed', 'entry', 'entries', 'availNs', 'doneNs'] as const;

/** Latency of one virtqueue's operations. */
export interface QueueLatency extends LatencyStats {
  dev: number;
  queue: number;
  /** Operations begun, completed or not. */
  operations: number;
}

export class TransactionIndex {
  private readonly base: TimeBase;
  /** Positions of the records that end request transactions (responses, NO_RESPONSE markers). */
  readonly ends = new Positions();
  private readonly opDev = new Samples();
  private readonly opQueue = new Samples();
  private readonly opAvail = new Samples();
  private readonly opEventUsed = new Samples();
  private readonly opEntry = new Samples();
  private readonly opEntries = new Samples();
  private readonly opAvailNs = new Samples();
  private readonly opDoneNs = new Samples();
  /** The avail.idx each operation waits for used.idx to reach (-1: unknown, the next used entry). */
  private readonly opTarget = new Samples();
  private readonly queues = new Map<number, QueueTrack>();
  /** queueLatency() as last computed, and the operations completed then. */
  private latencyMemo: { completed: number; value: QueueLatency[] } | null = null;
  private completed = 0;

  /** Set on an index restored from a snapshot: it takes no more records. */
  private frozen = false;

  constructor(startMonoNs = 0n) {
    this.base = timeBase(startMonoNs);
  }

  /** The index as arrays (copies of what is filled), with its queue latency. */
  snapshot(): TransactionSnapshot {
    const n = this.operations;
    return {
      ends: this.ends.data.slice(0, this.ends.length),
      columns: this.columns().map((c) => c.data.slice(0, n)),
      queueLatency: this.queueLatency(),
    };
  }

  /** An index that answers as the one `s` was taken from did; adding to it is refused. */
  static restore(s: TransactionSnapshot): TransactionIndex {
    const index = new TransactionIndex();
    index.ends.data = s.ends;
    index.ends.length = s.ends.length;
    index.columns().forEach((c, i) => {
      c.data = s.columns[i]!;
      c.n = c.data.length;
    });
    index.latencyMemo = { completed: 0, value: s.queueLatency };
    index.frozen = true;
    return index;
  }

  /** The operation columns in OPERATION_COLUMNS order. */
  private columns(): Samples[] {
    return [this.opDev, this.opQueue, this.opAvail, this.opEventUsed, this.opEntry, this.opEntries, this.opAvailNs, this.opDoneNs];
  }

  get requests(): number {
    return this.ends.length;
  }

  get operations(): number {
    return this.opAvail.n;
  }

  /** Adds the record at trace position `position` (records in capture order). */
  add(v: RecordView, position: number): void {
    if (this.frozen) throw new Error('a restored transaction index takes no more records');
    const kind = v.kindCode;
    if (kind === KIND_MESSAGE) {
      const flags = v.flags;
      if ((flags & F_RESPONSE) !== 0) {
        if (v.pairSeq >= 0) this.ends.push(position);
      } else if ((flags & F_EVENT) !== 0) {
        const slot = slotOf(v);
        const role = NOTIFY_ROLE[slot]!;
        if (role !== 0) this.notification(v, position, role, v.dataU32(NOTIFY_QUEUE_AT[slot]!));
      }
    } else if (kind === KIND_MARKER) {
      if (v.msgId === MARKER_NO_RESPONSE && v.pairSeq >= 0) this.ends.push(position);
    } else if (kind === KIND_VQ_INDEX) this.vqIndex(v, position);
  }

  private track(dev: number, queue: number): QueueTrack {
    const key = dev * 0x1_0000 + (queue & 0xffff);
    let q = this.queues.get(key);
    if (q === undefined) {
      q = { dev, queue, avail: -1, used: -1, pending: [], head: 0, awaitingUsed: [], usedHead: 0, latency: new Samples(), ops: 0 };
      this.queues.set(key, q);
    }
    return q;
  }

  private notification(v: RecordView, position: number, role: number, queue: number): void {
    if (queue < 0) return;
    const q = this.track(v.devNum, queue);
    const t = v.relNs(this.base);
    if (role === AVAIL) {
      const op = this.opAvail.push(position);
      this.opDev.push(q.dev);
      this.opQueue.push(q.queue);
      this.opEventUsed.push(-1);
      this.opEntry.push(-1);
      this.opEntries.push(0);
      this.opAvailNs.push(t);
      this.opDoneNs.push(NaN);
      this.opTarget.push(q.avail);
      q.pending.push(op);
      q.awaitingUsed.push(op);
      q.ops++;
      return;
    }
    // EVENT_USED answers the oldest operation still waiting for one.
    if (q.usedHead >= q.awaitingUsed.length) return;
    const op = q.awaitingUsed[q.usedHead++]!;
    compact(q, 'awaitingUsed', 'usedHead');
    this.opEventUsed.data[op] = position;
    if (this.opEntry.data[op]! < 0 && Number.isNaN(this.opDoneNs.data[op]!)) this.opDoneNs.data[op] = t;
  }

  private vqIndex(v: RecordView, position: number): void {
    const x = indexesOf(v);
    if (x === null) return;
    const q = this.track(v.devNum, v.channel);
    const moved = q.used < 0 ? 0 : (x.usedIdx - q.used) & 0xffff;
    q.avail = x.availIdx;
    q.used = x.usedIdx;
    if (moved === 0 || moved >= 0x8000) return;
    const t = v.relNs(this.base);
    // The used entries complete every pending operation whose buffers used.idx now covers (with
    // an unknown avail.idx: the oldest one).
    for (let first = true; q.head < q.pending.length; first = false) {
      const op = q.pending[q.head]!;
      const target = this.opTarget.data[op]!;
      if (target < 0 ? !first : ((x.usedIdx - target) & 0xffff) >= 0x8000) break;
      q.head++;
      this.opEntry.data[op] = position;
      this.opEntries.data[op] = moved;
      this.opDoneNs.data[op] = t;
      q.latency.push(t - this.opAvailNs.data[op]!);
      this.completed++;
    }
    compact(q, 'pending', 'head');
  }

  /** Operation `i` (0 ≤ i < operations). */
  operation(i: number): QueueOperation {
    const done = this.opDoneNs.data[i]!;
    return {
      dev: this.opDev.data[i]!,
      queue: this.opQueue.data[i]!,
      availPosition: this.opAvail.data[i]!,
      eventUsedPosition: this.opEventUsed.data[i]!,
      usedEntryPosition: this.opEntry.data[i]!,
      entries: this.opEntries.data[i]!,
      availNs: this.opAvailNs.data[i]!,
      doneNs: Number.isNaN(done) ? null : done,
    };
  }

  /** Latency of each virtqueue's completed operations, by device then queue. */
  queueLatency(): QueueLatency[] {
    if (this.latencyMemo?.completed === this.completed) return this.latencyMemo.value;
    const value = [...this.queues.values()]
      .filter((q) => q.latency.n > 0)
      .sort((a, b) => a.dev - b.dev || a.queue - b.queue)
      .map((q) => ({ ...latencyStats(`dev ${q.dev} vq ${q.queue}`, q.latency), dev: q.dev, queue: q.queue, operations: q.ops }));
    this.latencyMemo = { completed: this.completed, value };
    return value;
  }
}

/** Drops a FIFO's consumed front once it is most of the array, so a long capture keeps it short. */
function compact(q: QueueTrack, list: 'pending' | 'awaitingUsed', head: 'head' | 'usedHead'): void {
  if (q[head] > 1024 && q[head] * 2 > q[list].length) {
    q[list] = q[list].slice(q[head]);
    q[head] = 0;
  }
}
