/**
 * Perfetto export: a native protobuf trace (TrackEvent) that ui.perfetto.dev opens, written as a
 * stream (docs/formats.md §3: a Trace is just repeated length-delimited field-1 TracePackets, so it can
 * be appended packet by packet). Field numbers are from google/perfetto protos/perfetto/trace/
 * (trace_packet.proto, clock_snapshot.proto, interned_data/interned_data.proto,
 * track_event/{track_event,track_descriptor,process_descriptor,counter_descriptor,debug_annotation}.proto);
 * the recipe (tracks before use, nesting per track, interning) follows docs/formats.md §3 (Perfetto's synthetic track event recipe).
 *
 * Track layout:
 * - the board: a process track (synthetic pid BOARD_PID) named after the board profile, with an
 *   instant per conformance finding ("R4-token-echo error", annotated with the offending record);
 * - under it "session" (markers), "bus" (bus messages, queue states, headerless messages), "doorbells";
 * - one track per device, "dev N" until a GET_DEVICE_INFO / DEVICE_INFO response names its type
 *   ("dev N I2C adapter"; the descriptor is re-emitted, and trace processor keeps the latest name);
 * - under each device (and under "bus"): request lanes "requests #i" — requests overlap and slices must
 *   nest per track, so each in-flight request takes the lowest free lane — and one track per
 *   virtqueue "vq N" (EVENT_AVAIL/EVENT_USED for that queue) with a counter "vq N in flight" fed by
 *   vq-index records, and an instant per buffer record (a chain's bytes, as the argument "bytes" in hex).
 * A request is a slice on its lane from the request to its response (or its no-response marker,
 * or the end of the export), with a flow to the response, an instant on the device track.
 * Timestamps are the recorder's monotonic ns (CLOCK_MONOTONIC) written on the default trace clock
 * (BOOTTIME), because a synthetic trace has no BOOTTIME reading to convert through; the two agree
 * unless the host suspended during the capture, which matters only when merging with a kernel
 * trace. A ClockSnapshot ties the capture start to the wall clock so the UI can show real time.
 */
import { deviceDisplayName } from '../protocol/names';
import type { Problem } from '../protocol/types';
import { findingOf } from './conformance';
import type { AbsentField } from './conformance';
import { describeRecord, type RecordDescription } from './describe';
import type { ExportByteSink, TraceWriter } from './exportWriter';
import type { CaptureMeta } from './meta';
import { decodeBuffer, decodeVqIndex, MARKER_KINDS, NO_DEV, RECORD_FLAGS, type RecordView } from './record';
import { toHex } from '../util/hex';

/** Synthetic pid of the board's process track: above any Linux pid_max (≤ 2^22), so a merged kernel trace never claims it. */
export const BOARD_PID = 0x7fff_0000;
/** Our one packet sequence (any non-zero id; docs: "generate once, use throughout"). */
export const SEQUENCE_ID = 0x00a3_7000;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;

// Field numbers, from the protos named above.
const TRACE_PACKET = 1;
const PKT = { clockSnapshot: 6, timestamp: 8, sequenceId: 10, trackEvent: 11, internedData: 12, sequenceFlags: 13, trackDescriptor: 60, firstPacketOnSequence: 87 } as const;
const CLOCK_SNAPSHOT = { clocks: 1, clockId: 1, timestamp: 2 } as const;
/** BuiltinClock: REALTIME 1, BOOTTIME 6 (the default trace clock our timestamps use). */
const CLOCK_REALTIME = 1;
const CLOCK_BOOTTIME = 6;
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
const SEQ_NEEDS_INCREMENTAL_STATE = 2;
const TRACK = { uuid: 1, name: 2, process: 3, parentUuid: 5, counter: 8 } as const;
const PROCESS = { pid: 1, processName: 6 } as const;
const COUNTER_UNIT = 3;
const UNIT_COUNT = 2;
const EVENT = { debugAnnotations: 4, type: 9, nameIid: 10, trackUuid: 11, counterValue: 30, flowIds: 47, terminatingFlowIds: 48 } as const;
export const TYPE_SLICE_BEGIN = 1;
export const TYPE_SLICE_END = 2;
export const TYPE_INSTANT = 3;
export const TYPE_COUNTER = 4;
const ANNOTATION = { nameIid: 1, uintValue: 3, stringValue: 6 } as const;
const INTERNED = { eventNames: 2, debugAnnotationNames: 3 } as const;
const INTERNED_ENTRY = { iid: 1, name: 2 } as const;

/** Debug annotation names, interned once in the first packet (iid = index + 1). */
const ANNOTATIONS = ['seq', 'token', 'msg_size', 'summary', 'problems', 'latency_ns', 'response_seq', 'response', 'outcome', 'request_seq', 'offending_seq', 'length', 'head', 'bytes'] as const;
type AnnotationName = (typeof ANNOTATIONS)[number];
const ANN = Object.fromEntries(ANNOTATIONS.map((n, i) => [n, i + 1])) as Record<AnnotationName, number>;

const TWO_32 = 0x1_0000_0000;
const U32 = 0xffff_ffffn;
/** No-response markers (record.ts MARKER_KINDS). */
const NO_RESPONSE_MARKER = MARKER_KINDS.indexOf('no-response');

/**
 * A minimal protobuf writer over one growing buffer. Nested messages reserve one length byte
 * and move their body when the length needs more (rare: most of our messages are < 128 bytes).
 */
class ProtoBuffer {
  buf: Uint8Array;
  pos = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** A varint of a non-negative integer below 2^53. */
  varint(n: number): void {
    this.ensure(10);
    const b = this.buf;
    while (n >= 0x80) {
      b[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[this.pos++] = n;
  }

  /** A varint of a 64-bit value given as 32-bit halves. */
  varint64(lo: number, hi: number): void {
    if (hi === 0) return this.varint(lo);
    this.ensure(10);
    const b = this.buf;
    // 28 low bits in four bytes, then the rest of lo with hi's low bits, then hi's remaining bits.
    for (let i = 0; i < 4; i++) {
      b[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    const fifth = lo | ((hi & 0x07) << 4);
    hi >>>= 3;
    if (hi === 0) {
      b[this.pos++] = fifth;
      return;
    }
    b[this.pos++] = fifth | 0x80;
    while (hi >= 0x80) {
      b[this.pos++] = (hi & 0x7f) | 0x80;
      hi >>>= 7;
    }
    b[this.pos++] = hi;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  uint(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(n);
  }

  uint64(field: number, v: bigint): void {
    this.tag(field, WIRE_VARINT);
    this.varint64(Number(v & U32), Number((v >> 32n) & U32));
  }

  fixed64(field: number, n: number): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    const lo = n >>> 0;
    const hi = Math.floor(n / TWO_32) >>> 0;
    const b = this.buf;
    for (let i = 0; i < 4; i++) b[this.pos++] = (lo >>> (8 * i)) & 0xff;
    for (let i = 0; i < 4; i++) b[this.pos++] = (hi >>> (8 * i)) & 0xff;
  }

  /** Opens a length-delimited field; returns the mark to pass to close(). */
  open(field: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(1);
    return this.pos++;
  }

  close(mark: number): void {
    const len = this.pos - mark - 1;
    if (len < 0x80) {
      this.buf[mark] = len;
      return;
    }
    let extra = 0;
    for (let n = len >>> 7; n > 0; n >>>= 7) extra++;
    this.ensure(extra);
    this.buf.copyWithin(mark + 1 + extra, mark + 1, this.pos);
    const end = this.pos + extra;
    this.pos = mark;
    this.varint(len);
    this.pos = end;
  }

  string(field: number, s: string): void {
    const mark = this.open(field);
    this.ensure(s.length);
    const b = this.buf;
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[this.pos++] = c;
    }
    if (i < s.length) {
      const rest = utf8.encode(s.slice(i));
      this.ensure(rest.length);
      this.buf.set(rest, this.pos);
      this.pos += rest.length;
    }
    this.close(mark);
  }

  /** Takes the bytes written so far and starts a new buffer. */
  take(capacity: number): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(capacity);
    this.pos = 0;
    return out;
  }
}

const utf8 = new TextEncoder();

interface Vq {
  uuid: number;
  counterUuid: number;
}

/** A track for one request at a time. */
interface Lane {
  uuid: number;
  busy: boolean;
  /** When its last slice ended: a request earlier than that (clocks are not always in file order) takes another lane. */
  freeAt: bigint;
}

/** A device, or the bus itself: a track with request lanes and virtqueue tracks under it. */
interface Owner {
  uuid: number;
  name: string;
  lanes: Lane[];
  vqs: Map<number, Vq>;
}

interface Pending {
  lane: Lane;
  beginTs: bigint;
}

export interface PerfettoOptions {
  /** Bytes per emitted chunk (default 256 KiB). */
  chunkBytes?: number;
}

type Annotation = [AnnotationName, number | string];

export class PerfettoWriter implements TraceWriter {
  /** Fields the capture never held: no problem about them is written (docs/formats.md §5). */
  private absent: readonly AbsentField[] = [];
  private readonly out: ProtoBuffer;
  private readonly chunkBytes: number;
  private nextUuid = 16;
  private readonly rootUuid = 1;
  private readonly sessionUuid = 2;
  private readonly doorbellUuid = 3;
  private bus!: Owner;
  private readonly devices = new Map<number, Owner>();
  private readonly pending = new Map<number, Pending>();
  private readonly names = new Map<string, number>();
  private lastTs = 0n;

  constructor(
    private readonly emit: ExportByteSink,
    options: PerfettoOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? 1 << 18;
    this.out = new ProtoBuffer(this.chunkBytes + 4096);
  }

  begin(meta: CaptureMeta): void {
    this.absent = meta.absent ?? [];
    const o = this.out;
    this.lastTs = meta.startMonoNs;
    // First packet: clears incremental state, interns the annotation names, ties our clock to the wall clock.
    let p = o.open(TRACE_PACKET);
    o.uint(PKT.sequenceId, SEQUENCE_ID);
    o.uint(PKT.sequenceFlags, SEQ_INCREMENTAL_STATE_CLEARED);
    o.uint(PKT.firstPacketOnSequence, 1);
    const interned = o.open(PKT.internedData);
    ANNOTATIONS.forEach((name, i) => this.internedEntry(INTERNED.debugAnnotationNames, i + 1, name));
    o.close(interned);
    o.close(p);
    if (meta.startWallNs !== 0n || meta.startMonoNs !== 0n) {
      p = o.open(TRACE_PACKET);
      o.uint(PKT.sequenceId, SEQUENCE_ID);
      const snap = o.open(PKT.clockSnapshot);
      for (const [id, ts] of [[CLOCK_BOOTTIME, meta.startMonoNs], [CLOCK_REALTIME, meta.startWallNs]] as const) {
        const c = o.open(CLOCK_SNAPSHOT.clocks);
        o.uint(CLOCK_SNAPSHOT.clockId, id);
        o.uint64(CLOCK_SNAPSHOT.timestamp, ts);
        o.close(c);
      }
      o.close(snap);
      o.close(p);
    }
    this.descriptor(this.rootUuid, null, meta.board || 'board', { process: true });
    this.descriptor(this.sessionUuid, this.rootUuid, 'session');
    this.descriptor(this.doorbellUuid, this.rootUuid, 'doorbells');
    this.bus = this.owner('bus');
  }

  write(v: RecordView): void {
    const ts = v.monoNs;
    this.lastTs = ts;
    switch (v.kind) {
      case 'message':
        this.message(v, ts);
        break;
      case 'doorbell': {
        const d = describeRecord(v, this.absent);
        this.instant(ts, this.doorbellUuid, d.name, [['seq', v.seq], ['summary', d.summary]]);
        break;
      }
      case 'queue-state': {
        const d = describeRecord(v, this.absent);
        this.instant(ts, this.bus.uuid, d.name, [['seq', v.seq], ['summary', d.summary]]);
        break;
      }
      case 'vq-index':
        this.vqIndex(v, ts);
        break;
      case 'buffer':
        this.buffer(v, ts);
        break;
      case 'marker':
        this.marker(v, ts);
        break;
      case 'finding': {
        const f = findingOf(v);
        const d = describeRecord(v, this.absent);
        const ann: Annotation[] = [['seq', v.seq], ['summary', d.detail]];
        if (f !== null && f.seq >= 0) ann.push(['offending_seq', f.seq]);
        this.instant(ts, this.rootUuid, f ? `${f.rule} ${f.severity}` : d.name, ann);
        break;
      }
    }
    if (this.out.pos >= this.chunkBytes) this.emit(this.out.take(this.chunkBytes + 4096));
  }

  end(): void {
    for (const [seq, p] of this.pending) this.finishRequest(seq, p, this.lastTs, [['outcome', 'no response in this export (capture ended, or filtered out)']]);
    if (this.out.pos > 0) this.emit(this.out.take(0));
  }

  private message(v: RecordView, ts: bigint): void {
    const d = describeRecord(v, this.absent);
    const flags = v.flags;
    const owner = v.devNum === NO_DEV || (flags & RECORD_FLAGS.bus) !== 0 ? this.bus : this.device(v.devNum);
    if (flags & RECORD_FLAGS.response) this.learnDeviceType(v, d, ts);
    const ann = messageAnnotations(v, d);
    if (flags & RECORD_FLAGS.request) {
      // A seq seen twice (an edited or merged file) must not leave the first slice open.
      const twin = this.pending.get(v.seq);
      if (twin) this.finishRequest(v.seq, twin, ts, [['outcome', 'seq repeated by a later request']]);
      const lane = this.takeLane(owner, ts);
      this.pending.set(v.seq, { lane, beginTs: ts });
      this.event(ts, TYPE_SLICE_BEGIN, lane.uuid, d.name, ann, flowId(v.seq), 0);
      return;
    }
    if (flags & RECORD_FLAGS.response) {
      const pair = v.pairSeq;
      const p = pair >= 0 ? this.pending.get(pair) : undefined;
      if (p) {
        this.finishRequest(pair, p, ts, [['response_seq', v.seq], ['latency_ns', v.latencyNs], ['response', d.summary]]);
        ann.push(['request_seq', pair], ['latency_ns', v.latencyNs]);
        this.event(ts, TYPE_INSTANT, owner.uuid, d.name, ann, 0, flowId(pair));
        return;
      }
    }
    const vq = owner === this.bus ? undefined : vqOf(d);
    this.instant(ts, vq === undefined ? owner.uuid : this.vq(owner, vq, ts).uuid, d.name, ann);
  }

  private vqIndex(v: RecordView, ts: bigint): void {
    const owner = v.devNum === NO_DEV ? this.bus : this.device(v.devNum);
    const idx = decodeVqIndex(v.data());
    if (!idx) {
      const d = describeRecord(v, this.absent);
      this.instant(ts, owner.uuid, d.name, [['seq', v.seq], ['summary', d.summary]]);
      return;
    }
    const track = this.vq(owner, v.channel, ts).counterUuid;
    const o = this.out;
    const p = this.packet(ts);
    const e = o.open(PKT.trackEvent);
    o.uint(EVENT.type, TYPE_COUNTER);
    o.uint(EVENT.trackUuid, track);
    o.uint(EVENT.counterValue, idx.inFlight);
    o.close(e);
    o.close(p);
  }

  /** A chain's bytes: an instant on its virtqueue's track, the bytes kept as a hex argument. */
  private buffer(v: RecordView, ts: bigint): void {
    const owner = v.devNum === NO_DEV ? this.bus : this.device(v.devNum);
    const d = describeRecord(v, this.absent);
    const ann: Annotation[] = [['seq', v.seq], ['summary', d.summary]];
    const b = decodeBuffer(v.data());
    if (b !== null) ann.push(['length', b.length], ['head', b.head], ['bytes', toHex(b.bytes, '')]);
    this.instant(ts, this.vq(owner, v.channel, ts).uuid, d.name, ann);
  }

  private marker(v: RecordView, ts: bigint): void {
    const d = describeRecord(v, this.absent);
    const ann: Annotation[] = [['seq', v.seq], ['summary', d.summary]];
    const pair = v.pairSeq;
    if (v.msgId === NO_RESPONSE_MARKER && pair >= 0) {
      const p = this.pending.get(pair);
      if (p) this.finishRequest(pair, p, ts, [['outcome', `no response (marker seq ${v.seq})`]]);
      ann.push(['request_seq', pair]);
    }
    this.instant(ts, this.sessionUuid, d.name, ann);
  }

  /** Ends a request's slice; never before it began, so a clock step back cannot break nesting. */
  private finishRequest(seq: number, p: Pending, ts: bigint, ann: Annotation[]): void {
    const end = ts > p.beginTs ? ts : p.beginTs;
    this.event(end, TYPE_SLICE_END, p.lane.uuid, null, ann, 0, 0);
    p.lane.busy = false;
    p.lane.freeAt = end;
    this.pending.delete(seq);
  }

  private learnDeviceType(v: RecordView, d: RecordDescription, ts: bigint): void {
    const id = d.msg?.fields['device_id'];
    if (v.devNum === NO_DEV || typeof id !== 'number' || (d.name !== 'GET_DEVICE_INFO' && d.name !== 'DEVICE_INFO')) return;
    const dev = this.device(v.devNum);
    const name = `dev ${v.devNum} ${deviceDisplayName(id)}`;
    if (dev.name === name) return;
    dev.name = name;
    this.descriptor(dev.uuid, this.rootUuid, name, { ts });
  }

  private device(devNum: number): Owner {
    let d = this.devices.get(devNum);
    if (!d) {
      d = this.owner(`dev ${devNum}`);
      this.devices.set(devNum, d);
    }
    return d;
  }

  private owner(name: string): Owner {
    const uuid = this.nextUuid++;
    this.descriptor(uuid, this.rootUuid, name);
    return { uuid, name, lanes: [], vqs: new Map() };
  }

  /** The lowest free lane, creating one when all are busy. */
  private takeLane(owner: Owner, ts: bigint): Lane {
    let lane = owner.lanes.find((l) => !l.busy && l.freeAt <= ts);
    if (!lane) {
      lane = { uuid: this.nextUuid++, busy: false, freeAt: 0n };
      this.descriptor(lane.uuid, owner.uuid, `requests #${owner.lanes.length}`, { ts });
      owner.lanes.push(lane);
    }
    lane.busy = true;
    return lane;
  }

  private vq(owner: Owner, index: number, ts: bigint): Vq {
    let q = owner.vqs.get(index);
    if (!q) {
      q = { uuid: this.nextUuid++, counterUuid: this.nextUuid++ };
      this.descriptor(q.uuid, owner.uuid, `vq ${index}`, { ts });
      this.descriptor(q.counterUuid, q.uuid, `vq ${index} in flight`, { ts, counter: true });
      owner.vqs.set(index, q);
    }
    return q;
  }

  private descriptor(uuid: number, parent: number | null, name: string, opt: { ts?: bigint; process?: boolean; counter?: boolean } = {}): void {
    const o = this.out;
    const p = this.packet(opt.ts ?? null);
    const t = o.open(PKT.trackDescriptor);
    o.uint(TRACK.uuid, uuid);
    if (parent !== null) o.uint(TRACK.parentUuid, parent);
    if (opt.process) {
      const pd = o.open(TRACK.process);
      o.uint(PROCESS.pid, BOARD_PID);
      o.string(PROCESS.processName, name);
      o.close(pd);
    } else {
      o.string(TRACK.name, name);
    }
    if (opt.counter) {
      const c = o.open(TRACK.counter);
      o.uint(COUNTER_UNIT, UNIT_COUNT);
      o.close(c);
    }
    o.close(t);
    o.close(p);
  }

  private packet(ts: bigint | null): number {
    const o = this.out;
    const p = o.open(TRACE_PACKET);
    if (ts !== null) o.uint64(PKT.timestamp, ts);
    o.uint(PKT.sequenceId, SEQUENCE_ID);
    return p;
  }

  private instant(ts: bigint, track: number, name: string, ann: Annotation[]): void {
    this.event(ts, TYPE_INSTANT, track, name, ann, 0, 0);
  }

  /** One TrackEvent packet; `flow` / `terminatingFlow` 0 = none; `name` null for SLICE_END. */
  private event(ts: bigint, type: number, track: number, name: string | null, ann: Annotation[], flow: number, terminatingFlow: number): void {
    const o = this.out;
    const p = this.packet(ts);
    let iid = 0;
    if (name !== null) {
      iid = this.names.get(name) ?? 0;
      if (iid === 0) {
        iid = this.names.size + 1;
        this.names.set(name, iid);
        const i = o.open(PKT.internedData);
        this.internedEntry(INTERNED.eventNames, iid, name);
        o.close(i);
      }
    }
    o.uint(PKT.sequenceFlags, SEQ_NEEDS_INCREMENTAL_STATE);
    const e = o.open(PKT.trackEvent);
    o.uint(EVENT.type, type);
    o.uint(EVENT.trackUuid, track);
    if (iid !== 0) o.uint(EVENT.nameIid, iid);
    if (flow !== 0) o.fixed64(EVENT.flowIds, flow);
    if (terminatingFlow !== 0) o.fixed64(EVENT.terminatingFlowIds, terminatingFlow);
    for (const [key, value] of ann) {
      const a = o.open(EVENT.debugAnnotations);
      o.uint(ANNOTATION.nameIid, ANN[key]);
      if (typeof value === 'number') o.uint(ANNOTATION.uintValue, value);
      else o.string(ANNOTATION.stringValue, value);
      o.close(a);
    }
    o.close(e);
    o.close(p);
  }

  private internedEntry(field: number, iid: number, name: string): void {
    const o = this.out;
    const m = o.open(field);
    o.uint(INTERNED_ENTRY.iid, iid);
    o.string(INTERNED_ENTRY.name, name);
    o.close(m);
  }
}

/** Flow ids must be non-zero and global: the request's seq + 1. */
function flowId(requestSeq: number): number {
  return requestSeq + 1;
}

function problemsText(problems: Problem[]): string {
  return problems.map((p) => `${p.code}@${p.offset}: ${p.reason}`).join('; ');
}

function messageAnnotations(v: RecordView, d: RecordDescription): Annotation[] {
  const ann: Annotation[] = [['seq', v.seq]];
  if (d.msg) ann.push(['token', d.msg.token], ['msg_size', d.msg.msgSize]);
  ann.push(['summary', d.summary]);
  if (d.problems.length > 0) ann.push(['problems', problemsText(d.problems)]);
  return ann;
}

/** The virtqueue an EVENT_AVAIL / EVENT_USED names (vq_index from R2 on, vq_idx in R0). */
function vqOf(d: RecordDescription): number | undefined {
  const f = d.msg?.fields;
  if (!f || d.msg?.kind !== 'event') return undefined;
  const q = f['vq_index'] ?? f['vq_idx'];
  return typeof q === 'number' ? q : undefined;
}
