/**
 * The trace recorder: turns what crosses the bus into records (record.ts) as it happens, before
 * anything interprets it, and hands them to a sink (the disk journal) in chunks at least every
 * `flushMs`. It pairs requests with responses on its own, independently of the bus endpoint
 * (virtio-msg-protocol.md §7: response type = request type | 1, same msg_id and dev_num, token
 * echoed), so a response carries its request's seq and the latency, and a request still
 * unanswered after the response timeout gets a 'no-response' marker.
 *
 * Nothing recorded is dropped while memory lasts: a sink that fails keeps its chunks queued and
 * retried; only beyond `maxBacklogBytes` are new records counted as lost, and a 'dropped' marker
 * with the count is written once the sink works again.
 */
import type { EndpointObserver, EndpointProblem } from '../bus/endpoint';
import { decode } from '../protocol/index';
import type { Direction, Revision } from '../protocol/types';
import type { Runtime } from '../util/runtime';
import type { RecordBlock } from './block';
import {
  dirCode,
  encodeVqIndex,
  MARKER_KINDS,
  NO_DEV,
  NO_SEQ,
  problemMask,
  RECORD_FLAGS,
  RECORD_HEADER_SIZE,
  RECORD_KINDS,
  RECORD_VERSION,
  revCode,
  type MarkerKind,
  type RecordKind,
  type VqIndex,
} from './record';

export interface ChunkSink {
  /** Takes one chunk: `payload` holds `count` records from `firstSeq`. It is reused after the call returns. */
  writeChunk(payload: Uint8Array, count: number, firstSeq: number): void;
}

export interface RecorderOptions {
  runtime: Runtime;
  sink: ChunkSink;
  /** The bus's revision; null records messages without decoding them. */
  revision: Revision | null;
  /** The bus's maximum message size (oversize problems). */
  maxMessageSize?: number;
  /** After this long without a response a request gets a 'no-response' marker (default 1000 ms). */
  responseTimeoutMs?: number;
  /** Longest time a record waits before it reaches the sink (default 100 ms). */
  flushMs?: number;
  /** Chunk buffer size (default 256 KiB); a chunk is also written when it is full. */
  chunkBytes?: number;
  /** Chunks kept while the sink fails before records are counted as lost (default 256 MiB). */
  maxBacklogBytes?: number;
}

interface Pending {
  seq: number;
  monoNs: bigint;
  devNum: number;
  msgId: number;
  token: number;
  dir: number;
  name: string;
}

const RETIRED_MAX = 256;
const MAX_TEXT_BYTES = 4096;

const KIND: Readonly<Record<RecordKind, number>> = Object.fromEntries(RECORD_KINDS.map((k, i) => [k, i])) as Record<RecordKind, number>;
const MARKER: Readonly<Record<MarkerKind, number>> = Object.fromEntries(MARKER_KINDS.map((k, i) => [k, i])) as Record<MarkerKind, number>;
const NO_RESPONSE_MASK = problemMask(['no-response']);
const UNMATCHED_MASK = problemMask(['unmatched-response']);
const TOKEN_MISMATCH_MASK = problemMask(['token-mismatch']);
/** Codes the recorder finds itself; the endpoint's reports of these are not recorded twice. */
const OWN_CODES = new Set(['no-response', 'unmatched-response', 'token-mismatch']);

const encoder = new TextEncoder();

/** (direction, dev_num, msg_id, token) as one number: exact below 2^53. */
function pairKey(dir: number, devNum: number, msgId: number, token: number): number {
  return ((dir * 0x1_0000 + devNum) * 0x100 + msgId) * 0x1_0000 + token;
}

export class Recorder {
  private readonly rt: Runtime;
  private readonly sink: ChunkSink;
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
  private readonly pending = new Map<number, Pending>();
  private readonly retired = new Map<number, Pending>();
  private backlog: { payload: Uint8Array; count: number; firstSeq: number }[] = [];
  private backlogBytes = 0;
  private readonly maxBacklogBytes: number;
  private lost = 0;
  private sinkError: string | null = null;
  private cancelTimer: (() => void) | null = null;
  private closed = false;
  private readonly listeners = new Set<(block: RecordBlock) => void>();
  private listenerOffsets: number[] = [];

  /** Clock anchors: wall = startWallNs + (mono - startMonoNs). */
  readonly startMonoNs: bigint;
  readonly startWallNs: bigint;

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
    this.startMonoNs = this.rt.monoNs();
    this.startWallNs = BigInt(this.rt.wallMs()) * 1_000_000n;
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
  /** The sink's last failure, while it is failing. */
  get error(): string | null {
    return this.sinkError;
  }

  /** Called with each flushed chunk as a block of its own (live views); returns the unsubscribe function. */
  onFlush(listener: (block: RecordBlock) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An endpoint observer that records every message and endpoint problem. */
  observer(): EndpointObserver {
    return {
      onMessage: (m) => void this.message(m.direction, m.bytes, m.monoNs),
      onProblem: (p) => this.endpointProblem(p),
    };
  }

  /** Records one message as it was copied out of or into a queue slot; returns its seq. */
  message(dir: Direction, bytes: Uint8Array, monoNs = this.rt.monoNs()): number {
    const dirByte = dirCode(dir);
    let devNum = NO_DEV;
    let msgType = 0;
    let msgId = 0;
    let token = 0;
    let problems = 0;
    let flags = 0;
    let pairSeq = -1;
    let latency = 0n;
    if (this.rev !== null) {
      const d = decode(bytes, this.rev, this.maxSize === undefined ? { direction: dir } : { direction: dir, maxSize: this.maxSize });
      if (d.problems.length > 0) problems = problemMask(d.problems.map((p) => p.code));
      const m = d.msg;
      if (m === null) {
        flags |= RECORD_FLAGS.noHeader;
      } else {
        devNum = m.devNum;
        msgType = m.type;
        msgId = m.msgId;
        token = m.token;
        if (m.bus) flags |= RECORD_FLAGS.bus;
        const seq = this.nextSeq;
        if (m.kind === 'request') {
          flags |= RECORD_FLAGS.request;
          this.pending.set(pairKey(dirByte, devNum, msgId, token), { seq, monoNs, devNum, msgId, token, dir: dirByte, name: m.name });
        } else if (m.kind === 'event') {
          flags |= RECORD_FLAGS.event;
        } else {
          flags |= RECORD_FLAGS.response;
          const match = this.matchRequest(3 - dirByte, devNum, msgId, token);
          if (match === null) {
            problems |= UNMATCHED_MASK;
          } else {
            pairSeq = match.request.seq;
            latency = monoNs - match.request.monoNs;
            if (match.fallback) {
              flags |= RECORD_FLAGS.tokenFallback;
              problems |= TOKEN_MISMATCH_MASK;
            }
          }
        }
      }
    }
    return this.append(KIND.message, dirByte, this.revByte, monoNs, 0, devNum, msgType, msgId, token, problems >>> 0, flags, pairSeq, latency, bytes);
  }

  /** A doorbell rang: driver-to-device when the workbench rang the board, device-to-driver when the board rang. */
  doorbell(dir: Direction, monoNs = this.rt.monoNs()): number {
    return this.append(KIND.doorbell, dirCode(dir), 0, monoNs, 0, NO_DEV, 0, 0, 0, 0, 0, -1, 0n, new Uint8Array(0));
  }

  /** A handshake or queue-state transition, e.g. "ready: layout valid, peer attached". */
  queueState(text: string, monoNs = this.rt.monoNs()): number {
    return this.append(KIND['queue-state'], 0, 0, monoNs, 0, NO_DEV, 0, 0, 0, 0, 0, -1, 0n, this.text(text));
  }

  /** What the driver saw of one virtqueue's indices. */
  vqIndex(devNum: number, queue: number, state: VqIndex, monoNs = this.rt.monoNs()): number {
    return this.append(KIND['vq-index'], 0, 0, monoNs, queue, devNum, 0, 0, 0, 0, 0, -1, 0n, encodeVqIndex(state));
  }

  /** A session marker (attach, reset, error, bookmark…), optionally about a device. */
  marker(kind: MarkerKind, text: string, opts: { devNum?: number; problems?: number; pairSeq?: number; monoNs?: bigint } = {}): number {
    const monoNs = opts.monoNs ?? this.rt.monoNs();
    return this.append(KIND.marker, 0, 0, monoNs, 0, opts.devNum ?? NO_DEV, 0, MARKER[kind], 0, opts.problems ?? 0, 0, opts.pairSeq ?? -1, 0n, this.text(text));
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

  private endpointProblem(p: EndpointProblem): void {
    if (p.kind === 'message') {
      if (OWN_CODES.has(p.problem.code)) return;
      this.marker('error', `${p.direction} message at byte ${p.problem.offset}: ${p.problem.reason}`, { problems: problemMask([p.problem.code]), monoNs: p.monoNs });
    } else if (p.kind === 'queue') {
      this.marker('error', `queue ${p.problem.code} at bus byte ${p.problem.offset}: ${p.problem.reason}`, { monoNs: p.monoNs });
    } else {
      this.marker('error', p.reason, { monoNs: p.monoNs });
    }
  }

  private matchRequest(dir: number, devNum: number, msgId: number, token: number): { request: Pending; fallback: boolean } | null {
    const key = pairKey(dir, devNum, msgId, token);
    const exact = this.pending.get(key) ?? this.retired.get(key);
    if (exact) {
      this.pending.delete(key);
      this.retired.delete(key);
      return { request: exact, fallback: false };
    }
    // §7: a peer that does not echo the token is matched by (dev_num, msg_id), oldest first.
    for (const [k, p] of this.pending) {
      if (p.dir === dir && p.devNum === devNum && p.msgId === msgId) {
        this.pending.delete(k);
        return { request: p, fallback: true };
      }
    }
    return null;
  }

  private sweep(nowNs: bigint): void {
    for (const [k, p] of this.pending) {
      if (nowNs - p.monoNs < this.timeoutNs) continue;
      this.pending.delete(k);
      this.retired.set(k, p);
      if (this.retired.size > RETIRED_MAX) this.retired.delete(this.retired.keys().next().value!);
      const tok = p.token ? ` token 0x${p.token.toString(16).padStart(4, '0')}` : '';
      const ms = Number(this.timeoutNs) / 1e6;
      this.marker('no-response', `${p.name} dev ${p.devNum}${tok} (record ${p.seq}) not answered within ${ms} ms`, {
        devNum: p.devNum,
        problems: NO_RESPONSE_MASK,
        pairSeq: p.seq,
        monoNs: p.monoNs + this.timeoutNs,
      });
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
    const length = RECORD_HEADER_SIZE + data.length;
    if (this.used + length > this.buf.length) {
      this.writeOut();
      if (length > this.buf.length) this.grow(length);
    }
    const seq = this.nextSeq++;
    if (this.chunkCount === 0) this.chunkFirstSeq = seq;
    const o = this.used;
    const dv = this.dv;
    dv.setUint32(o, length, true);
    dv.setUint8(o + 4, RECORD_VERSION);
    dv.setUint8(o + 5, kind);
    dv.setUint8(o + 6, dir);
    dv.setUint8(o + 7, rev);
    dv.setUint32(o + 8, seq % 0x1_0000_0000, true);
    dv.setUint32(o + 12, Math.floor(seq / 0x1_0000_0000), true);
    dv.setBigUint64(o + 16, monoNs, true);
    dv.setBigUint64(o + 24, this.startWallNs + (monoNs - this.startMonoNs), true);
    dv.setUint16(o + 32, channel, true);
    dv.setUint16(o + 34, devNum, true);
    dv.setUint8(o + 36, msgType);
    dv.setUint8(o + 37, msgId);
    dv.setUint16(o + 38, token, true);
    dv.setUint32(o + 40, problems, true);
    dv.setUint32(o + 44, flags, true);
    if (pairSeq < 0) {
      dv.setBigUint64(o + 48, NO_SEQ, true);
    } else {
      dv.setUint32(o + 48, pairSeq % 0x1_0000_0000, true);
      dv.setUint32(o + 52, Math.floor(pairSeq / 0x1_0000_0000), true);
    }
    dv.setBigUint64(o + 56, latency, true);
    this.buf.set(data, o + RECORD_HEADER_SIZE);
    if (this.listeners.size > 0) this.listenerOffsets.push(o);
    this.used += length;
    this.chunkCount++;
    return seq;
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
      if (this.listeners.size > 0) {
        const block: RecordBlock = { bytes: payload.slice(), offsets: Uint32Array.from(this.listenerOffsets) };
        for (const l of this.listeners) l(block);
      }
      this.listenerOffsets = [];
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
      this.sinkError = e instanceof Error ? e.message : String(e);
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
