/**
 * The trace recorder: turns what crosses the bus into records (record.ts) as it happens, before
 * anything interprets it, and hands them to a sink (the disk journal) in chunks at least every
 * `flushMs`. A response carries its request's seq and the latency, and a request the engine
 * gave up on gets a 'no-response' marker, by the one matching rule (src/bus/matcher.ts): fed by
 * a bus endpoint (`observer()`) it records the endpoint's verdicts and writes the marker when the
 * endpoint expires the request; fed messages alone (`message()` without a verdict) it runs its
 * own matcher and expires requests after `responseTimeoutMs`.
 *
 * Nothing recorded is dropped while memory lasts: a sink that fails keeps its chunks queued and
 * retried; only beyond `maxBacklogBytes` are new records counted as lost, and a 'dropped' marker
 * with the count is written once the sink works again.
 */
import type { EndpointObserver, EndpointProblem, WireMatch } from '../bus/endpoint';
import { endpointProblemText } from '../bus/problems';
import { checkFraming, Matcher, noResponseText, type MatchEntry, type VerdictKind } from '../bus/matcher';
import { decode } from '../protocol/index';
import type { Direction, Revision } from '../protocol/types';
import type { Runtime } from '../util/runtime';
import { absentProblems, ConformanceEvaluator, ruleIndex, SEVERITIES, type AbsentField, type PeerName } from './conformance';
import {
  BUFFER_BYTES_MAX,
  BUFFER_HEADER_SIZE,
  dirCode,
  encodeVqIndex,
  MARKER_KINDS,
  NO_DEV,
  problemMask,
  RECORD_FLAGS,
  RECORD_HEADER_SIZE,
  RECORD_KINDS,
  revCode,
  RecordClock,
  RecordView,
  writeRecordHeaderFast,
  type MarkerKind,
  type RecordKind,
  type VqIndex,
} from './record';
import { errorText } from '../util/errorText';

/** Where the recorder's records go (the disk journal): chunks of whole records, in seq order. */
export interface RecordChunkSink {
  /** Takes one chunk: `payload` holds `count` records from `firstSeq`. It is reused after the call returns. */
  writeChunk(payload: Uint8Array, count: number, firstSeq: number): void;
}

export interface RecorderOptions {
  runtime: Runtime;
  sink: RecordChunkSink;
  /** The bus's revision; null records messages without decoding them. */
  revision: Revision | null;
  /** The bus's maximum message size (oversize problems). */
  maxMessageSize?: number;
  /** Without an endpoint: after this long without a response a request gets a 'no-response' marker (default 1000 ms). */
  responseTimeoutMs?: number;
  /** Longest time a record waits before it reaches the sink (default 100 ms). */
  flushMs?: number;
  /** Chunk buffer size (default 256 KiB); a chunk is also written when it is full. */
  chunkBytes?: number;
  /** Chunks kept while the sink fails before records are counted as lost (default 256 MiB). */
  maxBacklogBytes?: number;
  /** Clock anchors (CaptureMeta.startMonoNs/startWallNs), so records and metadata agree; default now. */
  startMonoNs?: bigint;
  startWallNs?: bigint;
  /** Evaluate the conformance rules on every record (conformance.ts), with the peer's quirk profile. */
  conformance?: { peer: PeerName | null };
  /** Fields the messages' source never held (CaptureMeta.absent): their stand-ins raise no problem and no finding. */
  absent?: readonly AbsentField[];
}

/** A request as recorded: its record, and once it expired its no-response marker. */
interface Sent extends MatchEntry {
  seq: number;
  monoNs: bigint;
  markerSeq: number;
}

// Module-local copies: under a CommonJS transpile every imported binding is a getter call,
// which costs more than the rest of a record in the hot path.
const HEADER_SIZE = RECORD_HEADER_SIZE;
const BUF_HEADER = BUFFER_HEADER_SIZE;
const BYTES_MAX = BUFFER_BYTES_MAX;
const writeHeader = writeRecordHeaderFast;
const NONE_DEV = NO_DEV;
const F_REQUEST = RECORD_FLAGS.request;
const F_RESPONSE = RECORD_FLAGS.response;
const F_EVENT = RECORD_FLAGS.event;
const F_BUS = RECORD_FLAGS.bus;
const F_NO_HEADER = RECORD_FLAGS.noHeader;
const F_TOKEN_FALLBACK = RECORD_FLAGS.tokenFallback;
const F_LATE = RECORD_FLAGS.late;
const DRIVER_TO_DEVICE = dirCode('driver-to-device');
const DIR_BYTE: Readonly<Record<Direction, number>> = { 'driver-to-device': dirCode('driver-to-device'), 'device-to-driver': dirCode('device-to-driver') };

interface Summary {
  /** The bytes this summary is for (null: too long to cache). */
  bytes: Uint8Array | null;
  dir: number;
  problems: number;
  kind: 'request' | 'response' | 'event' | null;
  bus: boolean;
  devNum: number;
  /** The raw type byte. */
  type: number;
  msgId: number;
  token: number;
  msgSize: number;
}

const DECODE_CACHE_SLOTS = 256;
const DECODE_CACHE_MAX_BYTES = 64;

function sameBytes(a: Uint8Array | null, b: Uint8Array): boolean {
  if (a === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Requests an endpoint expired, kept for their late answers. */
const EXPIRED_MAX = 256;
const MAX_TEXT_BYTES = 4096;

const KIND: Readonly<Record<RecordKind, number>> = Object.fromEntries(RECORD_KINDS.map((k, i) => [k, i])) as Record<RecordKind, number>;
const MARKER: Readonly<Record<MarkerKind, number>> = Object.fromEntries(MARKER_KINDS.map((k, i) => [k, i])) as Record<MarkerKind, number>;
const NO_RESPONSE_MASK = problemMask(['no-response']);
const TOKEN_MISMATCH_MASK = problemMask(['token-mismatch']);
const MALFORMED_MASK = problemMask(['malformed-response']);
/** The problem a response's verdict puts on its record. */
const VERDICT_MASK: Readonly<Record<VerdictKind, number>> = {
  answer: 0,
  'wrong-dev-num': problemMask(['wrong-dev-num']),
  'wrong-msg-id': problemMask(['wrong-msg-id']),
  'wrong-token': problemMask(['wrong-token']),
  duplicate: problemMask(['duplicate']),
  late: problemMask(['late']),
  unmatched: problemMask(['unmatched-response']),
};
/** Codes recorded on the message records themselves; the endpoint's reports of these are not recorded twice. */
const OWN_CODES = new Set(['no-response', 'unmatched-response', 'token-mismatch', 'duplicate', 'late', 'wrong-dev-num', 'wrong-msg-id', 'wrong-token', 'malformed-response']);

const encoder = new TextEncoder();

/** Live findings per rule before the recorder stops writing them (amp-workbench check counts them all). */
const FINDINGS_PER_RULE = 1000;
const KIND_FINDING = KIND.finding;



export class Recorder {
  private readonly rt: Runtime;
  private readonly sink: RecordChunkSink;
  private readonly rev: Revision | null;
  private readonly revByte: number;
  private readonly maxSize: number | undefined;
  private readonly timeoutNs: bigint;
  private readonly flushMs: number;
  private buf: Uint8Array<ArrayBuffer>;
  private dv: DataView;
  private used = 0;
  private chunkCount = 0;
  private chunkFirstSeq = 0;
  private nextSeq = 0;
  /** Without an endpoint: one matcher per direction requests travel (index: dirCode). */
  private readonly matchers: (Matcher<Sent> | null)[] = [null, null, null];
  /** With an endpoint: its requests by WireMatch id, while outstanding or expired. */
  private readonly sent = new Map<number, Sent>();
  private readonly expiredIds: number[] = [];
  private backlog: { payload: Uint8Array; count: number; firstSeq: number }[] = [];
  private backlogBytes = 0;
  private readonly maxBacklogBytes: number;
  private lost = 0;
  private sinkError: string | null = null;
  private cancelTimer: (() => void) | null = null;
  private closed = false;
  private readonly cache: (Summary | undefined)[] = new Array<Summary | undefined>(DECODE_CACHE_SLOTS);
  private readonly conformance: ConformanceEvaluator | null;
  private readonly view: RecordView;
  /** Codec problems kept: those about fields the source never held are the stand-ins', not the peer's. */
  private readonly keptProblems: number;
  private readonly payloadHeld: boolean;

  /** Clock anchors: wall = startWallNs + (mono - startMonoNs). */
  readonly startMonoNs: bigint;
  readonly startWallNs: bigint;
  private readonly clock: RecordClock;
  private readonly decodeOpts: Readonly<Record<Direction, { direction: Direction; maxSize?: number }>>;

  constructor(opts: RecorderOptions) {
    this.rt = opts.runtime;
    this.sink = opts.sink;
    this.rev = opts.revision;
    this.revByte = revCode(opts.revision);
    this.maxSize = opts.maxMessageSize;
    this.timeoutNs = BigInt(Math.round((opts.responseTimeoutMs ?? 1000) * 1e6));
    this.flushMs = opts.flushMs ?? 100;
    this.maxBacklogBytes = opts.maxBacklogBytes ?? 256 << 20;
    this.buf = new Uint8Array(opts.chunkBytes ?? 256 << 10);
    this.dv = new DataView(this.buf.buffer);
    this.startMonoNs = opts.startMonoNs ?? this.rt.monoNs();
    this.startWallNs = opts.startWallNs ?? BigInt(this.rt.wallMs()) * 1_000_000n;
    this.clock = new RecordClock(this.startMonoNs, this.startWallNs);
    if (this.rev !== null) for (const dir of [DRIVER_TO_DEVICE, 3 - DRIVER_TO_DEVICE]) this.matchers[dir] = new Matcher(this.rev);
    const max = this.maxSize === undefined ? {} : { maxSize: this.maxSize };
    this.decodeOpts = { 'driver-to-device': { direction: 'driver-to-device', ...max }, 'device-to-driver': { direction: 'device-to-driver', ...max } };
    const absent = opts.absent ?? [];
    this.keptProblems = ~problemMask(absentProblems(absent)) >>> 0;
    this.payloadHeld = !absent.includes('payload');
    this.conformance = opts.conformance ? new ConformanceEvaluator({ peer: opts.conformance.peer, limitPerRule: FINDINGS_PER_RULE, absent }) : null;
    this.view = new RecordView(this.buf);
    this.schedule();
  }

  /** Records written so far (the next record's seq). */
  get count(): number {
    return this.nextSeq;
  }
  /** Records that could not be kept because the sink failed for too long. */
  get lostCount(): number {
    return this.lost;
  }
  /** Conformance findings so far by severity (null when the rules are not evaluated). */
  get findingCounts(): { errors: number; warnings: number; infos: number } | null {
    return this.conformance?.totals ?? null;
  }
  /** The sink's last failure, while it is failing. */
  get error(): string | null {
    return this.sinkError;
  }

  /** An endpoint observer that records every message with the endpoint's verdict, every endpoint problem and every doorbell. */
  observer(): EndpointObserver {
    return {
      onMessage: (m) => void this.message(m.direction, m.bytes, m.monoNs, m.match),
      onProblem: (p) => this.endpointProblem(p),
      onDoorbell: (dir) => void this.doorbell(dir),
    };
  }

  /**
   * Records one message as it was copied out of or into a queue slot; returns its seq. `match`:
   * the endpoint's verdict (null: nothing to pair); without one the recorder matches itself.
   */
  message(dir: Direction, bytes: Uint8Array, monoNs = this.rt.monoNs(), match?: WireMatch | null): number {
    const dirByte = DIR_BYTE[dir];
    let devNum = NONE_DEV;
    let msgType = 0;
    let msgId = 0;
    let token = 0;
    let problems = 0;
    let flags = 0;
    let pairSeq = -1;
    let latency = 0n;
    if (this.rev !== null) {
      const h = this.headerOf(dir, dirByte, bytes);
      problems = h.problems & this.keptProblems;
      if (h.kind === null) {
        flags |= F_NO_HEADER;
      } else {
        devNum = h.devNum;
        msgType = h.type;
        msgId = h.msgId;
        token = h.token;
        if (h.bus) flags |= F_BUS;
        if (h.kind === 'request') flags |= F_REQUEST;
        else if (h.kind === 'event') flags |= F_EVENT;
        else flags |= F_RESPONSE;
        let verdict: VerdictKind | null = null;
        let request: Sent | null = null;
        if (match === undefined) {
          if (h.kind === 'request') {
            this.matchers[dirByte]!.request({ type: h.type, bus: h.bus, msgId, devNum, token, id: 0, seq: this.nextSeq, monoNs, markerSeq: -1 });
          } else if (h.kind === 'response') {
            const v = this.matchers[3 - dirByte]!.response(h);
            verdict = v.kind;
            request = v.request;
            if (v.fallback) flags |= F_TOKEN_FALLBACK;
          }
        } else if (match !== null) {
          if (match.kind === 'request') {
            this.sent.set(match.requestId, { type: h.type, bus: h.bus, msgId, devNum, token, id: match.requestId, seq: this.nextSeq, monoNs, markerSeq: -1 });
          } else {
            verdict = match.kind;
            request = this.sent.get(match.requestId) ?? null;
            this.sent.delete(match.requestId);
            if (match.fallback) flags |= F_TOKEN_FALLBACK;
          }
        }
        if (verdict !== null) {
          problems |= VERDICT_MASK[verdict];
          if (flags & F_TOKEN_FALLBACK) problems |= TOKEN_MISMATCH_MASK;
          if (request !== null && verdict !== 'duplicate') {
            latency = monoNs - request.monoNs;
            pairSeq = verdict === 'late' ? request.markerSeq : request.seq;
          }
          if (verdict === 'late') flags |= F_LATE;
          if (verdict === 'answer' && this.payloadHeld && h.msgSize !== bytes.length && checkFraming(this.rev, h.msgSize, bytes.length) !== null) problems |= MALFORMED_MASK;
        }
      }
    }
    // channel: the bus queue the message travelled on (record.ts: 0 driver→device, 1 device→driver).
    return this.append(KIND.message, dirByte, this.revByte, monoNs, dirByte - 1, devNum, msgType, msgId, token, problems >>> 0, flags, pairSeq, latency, bytes);
  }

  /** A doorbell rang: driver-to-device when the workbench rang the board, device-to-driver when the board rang. */
  doorbell(dir: Direction, monoNs = this.rt.monoNs()): number {
    return this.append(KIND.doorbell, DIR_BYTE[dir], 0, monoNs, 0, NONE_DEV, 0, 0, 0, 0, 0, -1, 0n, new Uint8Array(0));
  }

  /** A handshake or queue-state transition, e.g. "ready: layout valid, peer attached". */
  queueState(text: string, monoNs = this.rt.monoNs()): number {
    return this.append(KIND['queue-state'], 0, 0, monoNs, 0, NONE_DEV, 0, 0, 0, 0, 0, -1, 0n, this.text(text));
  }

  /** What the driver saw of one virtqueue's indices. */
  vqIndex(devNum: number, queue: number, state: VqIndex, monoNs = this.rt.monoNs()): number {
    return this.append(KIND['vq-index'], 0, 0, monoNs, queue, devNum, 0, 0, 0, 0, 0, -1, 0n, encodeVqIndex(state));
  }

  /**
   * The bytes of a descriptor chain (record.ts BUFFER_DATA): driver-to-device, its device-readable
   * bytes as the driver published it; device-to-driver, the bytes the device wrote, as the driver
   * took it back used. `length`: the bytes in full; the first BUFFER_BYTES_MAX of `bytes` are kept.
   * Written straight into the chunk: no allocation per record.
   */
  buffer(dir: Direction, devNum: number, queue: number, head: number, length: number, bytes: Uint8Array, monoNs = this.rt.monoNs()): number {
    const kept = Math.min(bytes.length, length, BYTES_MAX);
    const o = this.reserve(BUF_HEADER + kept);
    writeHeader(this.dv, o, BUF_HEADER + kept, this.clock, KIND.buffer, DIR_BYTE[dir], 0, this.nextSeq, monoNs, queue, devNum, 0, 0, 0, 0, 0, -1, 0n);
    const d = o + HEADER_SIZE;
    this.dv.setUint32(d, length, true);
    this.dv.setUint32(d + 4, head & 0xffff, true);
    if (kept === bytes.length) this.buf.set(bytes, d + BUF_HEADER);
    else for (let i = 0; i < kept; i++) this.buf[d + BUF_HEADER + i] = bytes[i]!;
    return this.commit(o, HEADER_SIZE + BUF_HEADER + kept, KIND.buffer, monoNs);
  }

  /** A session marker (attach, reset, error, bookmark…), optionally about a device. */
  marker(kind: MarkerKind, text: string, opts: { devNum?: number; problems?: number; pairSeq?: number; monoNs?: bigint } = {}): number {
    const monoNs = opts.monoNs ?? this.rt.monoNs();
    return this.append(KIND.marker, 0, 0, monoNs, 0, opts.devNum ?? NONE_DEV, 0, MARKER[kind], 0, opts.problems ?? 0, 0, opts.pairSeq ?? -1, 0n, this.text(text));
  }

  /** Writes everything recorded so far to the sink and flags requests past their timeout. */
  flush(): void {
    this.sweep(this.rt.monoNs());
    this.writeOut();
  }

  /** Flushes and stops the timer; requests still pending are left unflagged (the capture ended, not the peer). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
  }

  /**
   * The decoded header and problem mask of `bytes`. A running bus repeats the same bytes
   * (EVENT_AVAIL/EVENT_USED of a busy queue) over and over, so results are kept in a small
   * direct-mapped cache keyed by content: a hit costs a hash and a compare, not a decode.
   */
  private headerOf(dir: Direction, dirByte: number, bytes: Uint8Array): Summary {
    let h = 0x811c9dc5 ^ dirByte;
    const n = bytes.length;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    const slot = (h >>> 0) & (DECODE_CACHE_SLOTS - 1);
    const hit = this.cache[slot];
    if (hit !== undefined && hit.dir === dirByte && sameBytes(hit.bytes, bytes)) return hit;
    const d = decode(bytes, this.rev!, this.decodeOpts[dir]);
    const m = d.msg;
    const summary: Summary = {
      bytes: n <= DECODE_CACHE_MAX_BYTES ? bytes.slice() : null,
      dir: dirByte,
      problems: d.problems.length > 0 ? problemMask(d.problems.map((p) => p.code)) : 0,
      kind: m?.kind ?? null,
      bus: m?.bus ?? false,
      devNum: m?.devNum ?? NONE_DEV,
      type: m?.type ?? 0,
      msgId: m?.msgId ?? 0,
      token: m?.token ?? 0,
      msgSize: m?.msgSize ?? 0,
    };
    if (summary.bytes !== null) this.cache[slot] = summary;
    return summary;
  }

  private endpointProblem(p: EndpointProblem): void {
    if (p.kind === 'message') {
      if (p.problem.code === 'no-response') return this.endpointExpired(p.requestId, p.problem.reason, p.monoNs);
      if (OWN_CODES.has(p.problem.code)) return;
      this.marker('error', endpointProblemText(p, this.rev), { problems: problemMask([p.problem.code]), monoNs: p.monoNs });
    } else if (p.kind === 'queue') {
      this.marker('error', `queue ${p.problem.code} at bus byte ${p.problem.offset}: ${p.problem.reason}`, { monoNs: p.monoNs });
    } else {
      this.marker('error', p.reason, { monoNs: p.monoNs });
    }
  }

  /** The endpoint gave up on a request: its marker, at that moment, which a late answer links to. */
  private endpointExpired(id: number | undefined, reason: string, monoNs: bigint): void {
    const s = id === undefined ? undefined : this.sent.get(id);
    if (s === undefined) {
      this.marker('no-response', reason, { problems: NO_RESPONSE_MASK, monoNs });
      return;
    }
    this.noResponse(s, reason, monoNs);
    this.expiredIds.push(s.id);
    if (this.expiredIds.length > EXPIRED_MAX) this.sent.delete(this.expiredIds.shift()!);
  }

  private noResponse(s: Sent, reason: string, monoNs: bigint): void {
    s.markerSeq = this.marker('no-response', `${reason} (record ${s.seq})`, { devNum: s.devNum, problems: NO_RESPONSE_MASK, pairSeq: s.seq, monoNs });
  }

  /** Without an endpoint: requests past the response timeout expire here. */
  private sweep(nowNs: bigint): void {
    const ms = Number(this.timeoutNs) / 1e6;
    for (const m of this.matchers) {
      if (m === null) continue;
      for (const s of m.sweep((e) => nowNs - e.monoNs >= this.timeoutNs)) this.noResponse(s, noResponseText(m.revision, s, ms), s.monoNs + this.timeoutNs);
    }
  }

  private text(s: string): Uint8Array {
    const b = encoder.encode(s);
    return b.length > MAX_TEXT_BYTES ? b.subarray(0, MAX_TEXT_BYTES) : b;
  }

  private append(
    kind: number,
    dir: number,
    rev: number,
    monoNs: bigint,
    channel: number,
    devNum: number,
    msgType: number,
    msgId: number,
    token: number,
    problems: number,
    flags: number,
    pairSeq: number,
    latency: bigint,
    data: Uint8Array,
  ): number {
    const o = this.reserve(data.length);
    const seq = this.nextSeq;
    writeHeader(this.dv, o, data.length, this.clock, kind, dir, rev, seq, monoNs, channel, devNum, msgType, msgId, token, problems, flags, pairSeq, latency);
    this.buf.set(data, o + HEADER_SIZE);
    return this.commit(o, HEADER_SIZE + data.length, kind, monoNs);
  }

  /** Room for a record of `dataLength` data bytes at the end of the chunk: its offset. */
  private reserve(dataLength: number): number {
    const length = HEADER_SIZE + dataLength;
    if (this.used + length > this.buf.length) {
      this.writeOut();
      if (length > this.buf.length) this.grow(length);
    }
    return this.used;
  }

  /** Counts the record of `length` bytes written at `o` (reserve's offset, seq nextSeq) into the chunk; returns its seq. */
  private commit(o: number, length: number, kind: number, monoNs: bigint): number {
    const seq = this.nextSeq++;
    if (this.chunkCount === 0) this.chunkFirstSeq = seq;
    this.used += length;
    this.chunkCount++;
    if (this.conformance !== null && kind !== KIND_FINDING) this.findings(o, monoNs);
    return seq;
  }

  /** The conformance hook: findings about the record at `o` go in right after it (conformance.ts). */
  private findings(o: number, monoNs: bigint): void {
    for (const f of this.conformance!.record(this.view.at(this.buf, o))) {
      this.append(KIND_FINDING, 0, 0, monoNs, 0, f.devNum ?? NONE_DEV, SEVERITIES.indexOf(f.severity), ruleIndex(f.rule), 0, 0, 0, f.seq, 0n, this.text(f.message));
    }
  }

  private grow(n: number): void {
    this.buf = new Uint8Array(n);
    this.dv = new DataView(this.buf.buffer);
  }

  private writeOut(): void {
    if (this.chunkCount > 0) {
      const payload = this.buf.subarray(0, this.used);
      const count = this.chunkCount;
      const firstSeq = this.chunkFirstSeq;
      this.used = 0;
      this.chunkCount = 0;
      if (this.backlog.length > 0 || !this.tryWrite(payload, count, firstSeq)) this.keep(payload, count, firstSeq);
    }
    this.retryBacklog();
  }

  private tryWrite(payload: Uint8Array, count: number, firstSeq: number): boolean {
    try {
      this.sink.writeChunk(payload, count, firstSeq);
      this.sinkError = null;
      return true;
    } catch (e) {
      this.sinkError = errorText(e);
      return false;
    }
  }

  private keep(payload: Uint8Array, count: number, firstSeq: number): void {
    if (this.backlogBytes + payload.length > this.maxBacklogBytes) {
      this.lost += count;
      return;
    }
    this.backlog.push({ payload: payload.slice(), count, firstSeq });
    this.backlogBytes += payload.length;
  }

  private retryBacklog(): void {
    while (this.backlog.length > 0) {
      const c = this.backlog[0]!;
      if (!this.tryWrite(c.payload, c.count, c.firstSeq)) return;
      this.backlog.shift();
      this.backlogBytes -= c.payload.length;
    }
    if (this.lost > 0 && this.sinkError === null) {
      const lost = this.lost;
      this.lost = 0;
      this.marker('dropped', `${lost} records lost while the trace sink failed`);
    }
  }

  private schedule(): void {
    this.cancelTimer = this.rt.setTimer(this.flushMs, () => {
      if (this.closed) return;
      this.flush();
      this.schedule();
    });
  }
}
