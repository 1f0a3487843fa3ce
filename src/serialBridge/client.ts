/**
 * Host side of the serial bridge protocol as a pure state machine over an abstract byte
 * transport: requests are queued and sent one at a time (stop-and-wait, so the agent executes
 * them strictly in issue order, docs/amp-bus.md §9.2 "Semantics"), each retransmitted byte-identically
 * with the same sequence number after a timeout, a bounded number of times. The agent answers a
 * retransmission from its reply cache without executing it again, so a write applies at most once
 * (main/bridge-agent/PROTOCOL.md "Retries").
 */
import type { Runtime } from '../util/runtime';
import { hexNum } from '../util/hex';
import { CobsSplitter } from './cobs';
import {
  BRIDGE_VERSION,
  EVENT,
  MIN_MAX_PAYLOAD,
  OP,
  READ_REPLY_HEADER,
  REPLY,
  STATUS,
  WRITE_HEADER,
  decodeCapabilities,
  decodeErrorDetail,
  decodeEvent,
  decodeFrame,
  decodeTapRead,
  encodeFrame,
  encodeRequestPayload,
  maxWireBytes,
  statusText,
  type BridgeWidth,
  type Capabilities,
  type Request,
  type TapEntries,
  type TapSpec,
  type WatchEvent,
} from './protocol';

export type BridgeErrorKind = 'timeout' | 'status' | 'closed' | 'protocol';

export class BridgeError extends Error {
  constructor(
    readonly kind: BridgeErrorKind,
    message: string,
    /** The agent's status code, for kind 'status'. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'BridgeError';
  }
}

export interface BridgeClientOptions {
  /** Writes bytes to the line; a failure to write is reported through `fail()`. */
  send(bytes: Uint8Array): void;
  runtime: Runtime;
  /** Reply wait per attempt, on top of the line time of request and reply. Default 250 ms. */
  timeoutMs?: number;
  /** Line speed for that line time (baud / 10 / 1000); pty pairs and USB-CDC are fast. Default 1000 (10 Mbaud). */
  bytesPerMs?: number;
  /** Retransmissions after the first attempt. Default 5. */
  retries?: number;
  /** First sequence number (a random one keeps a new session from meeting an old cached reply). */
  initialSeq?: number;
  /** Names the line in error messages, e.g. "/dev/ttyACM0". */
  where?: string;
}

export interface BridgeStats {
  requests: number;
  retransmits: number;
  /** Frames dropped for bad COBS, length, CRC or version. */
  badFrames: number;
  /** Replies to an earlier attempt or request (a duplicate from the agent's cache). */
  staleReplies: number;
  events: number;
}

interface Pending {
  req: Request;
  type: number;
  seq: number;
  payload: Uint8Array;
  /** The encoded frame, built once the sequence number is assigned and resent unchanged. */
  wire: Uint8Array;
  replyBytes: number;
  attempts: number;
  resolve: (payload: Uint8Array) => void;
  reject: (e: BridgeError) => void;
}

/** Describes a request for error messages: "READ 64 bytes at 0x10040000". */
function describeRequest(r: Request): string {
  switch (r.op) {
    case 'READ':
      return `READ ${r.length} bytes at ${hexNum(r.addr, 8)}`;
    case 'WRITE':
      return `WRITE ${r.data.length} bytes at ${hexNum(r.addr, 8)}`;
    case 'LOAD':
    case 'STORE':
      return `${r.op}${r.width} at ${hexNum(r.addr, 8)}`;
    case 'WATCH':
      return `WATCH slot ${r.slot} at ${hexNum(r.addr, 8)}`;
    case 'UNWATCH':
      return `UNWATCH slot ${r.slot}`;
    case 'NOTIFY':
      return `NOTIFY line ${r.line}`;
    case 'TAP':
      return `TAP ring ${r.ring} (producer index at ${hexNum(r.producer, 8)}, ${r.slots} slots at ${hexNum(r.slotsAddr, 8)})`;
    case 'TAP_READ':
      return `TAP_READ from entry ${r.from}`;
    default:
      return r.op;
  }
}

export class BridgeClient {
  readonly stats: BridgeStats = { requests: 0, retransmits: 0, badFrames: 0, staleReplies: 0, events: 0 };
  private readonly splitter = new CobsSplitter(maxWireBytes(0xffff));
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private cancelTimer: (() => void) | null = null;
  private seq: number;
  private closedBy: BridgeError | null = null;
  private readonly closedListeners = new Set<(reason: string) => void>();
  private readonly eventListeners = new Set<(e: WatchEvent) => void>();
  private readonly timeoutMs: number;
  private readonly bytesPerMs: number;
  private readonly retries: number;
  private readonly where: string;
  /** Set by hello(); requests are sized to it. */
  caps: Capabilities | null = null;

  constructor(private readonly opts: BridgeClientOptions) {
    this.seq = (opts.initialSeq ?? 0) & 0xffff;
    this.timeoutMs = opts.timeoutMs ?? 250;
    this.bytesPerMs = opts.bytesPerMs ?? 1000;
    this.retries = opts.retries ?? 5;
    this.where = opts.where ?? 'the bridge';
  }

  /** Bytes from the line, in any chunking. */
  receive(chunk: Uint8Array): void {
    this.splitter.push(chunk, (encoded) => this.onFrame(encoded));
  }

  /** Called once, with the reason, when the line is gone (fail()). */
  onClosed(listener: (reason: string) => void): () => void {
    this.closedListeners.add(listener);
    return () => this.closedListeners.delete(listener);
  }

  /** The line is gone: every pending and later request fails with `reason`. Idempotent. */
  fail(reason: string): void {
    if (this.closedBy) return;
    this.closedBy = new BridgeError('closed', `${this.where}: ${reason}`);
    for (const l of this.closedListeners) l(this.closedBy.message);
    this.closedListeners.clear();
    this.cancelTimer?.();
    this.cancelTimer = null;
    const all = this.current ? [this.current, ...this.queue] : [...this.queue];
    this.current = null;
    this.queue.length = 0;
    for (const p of all) p.reject(this.closedWith(p.req));
    this.eventListeners.clear();
  }

  get closed(): boolean {
    return this.closedBy !== null;
  }

  onEvent(listener: (e: WatchEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Largest READ and WRITE data the agent takes in one frame. */
  get maxRead(): number {
    return (this.caps?.maxPayload ?? MIN_MAX_PAYLOAD) - READ_REPLY_HEADER;
  }
  get maxWrite(): number {
    return (this.caps?.maxPayload ?? MIN_MAX_PAYLOAD) - WRITE_HEADER;
  }

  /** Capability exchange; also clears the agent's watches and reply cache (a new session). */
  async hello(): Promise<Capabilities> {
    const p = await this.request({ op: 'HELLO' });
    const c = decodeCapabilities(p);
    if (!c.ok) throw new BridgeError('protocol', `${this.where}: HELLO reply is malformed: ${c.error}`);
    if (c.value.protocolVersion !== BRIDGE_VERSION) {
      throw new BridgeError('protocol', `${this.where}: agent ${c.value.agentName} speaks bridge protocol ${c.value.protocolVersion}, this host speaks ${BRIDGE_VERSION}; update the agent or the workbench`);
    }
    if (c.value.maxPayload < MIN_MAX_PAYLOAD) {
      throw new BridgeError('protocol', `${this.where}: agent ${c.value.agentName} takes payloads of ${c.value.maxPayload} bytes, the protocol needs at least ${MIN_MAX_PAYLOAD}; rebuild it with a larger BRIDGE_MAX_PAYLOAD`);
    }
    this.caps = c.value;
    return c.value;
  }

  async read(addr: bigint, length: number, width: BridgeWidth = 0): Promise<Uint8Array> {
    if (length > this.maxRead) throw new RangeError(`bridge READ of ${length} bytes exceeds the agent's ${this.maxRead}; split it`);
    const data = await this.request({ op: 'READ', addr, length, width });
    if (data.length !== length) throw new BridgeError('protocol', `${this.where}: READ ${length} bytes at ${hexNum(addr, 8)} returned ${data.length}`);
    return data;
  }
  async write(addr: bigint, data: Uint8Array, width: BridgeWidth = 0): Promise<void> {
    if (data.length > this.maxWrite) throw new RangeError(`bridge WRITE of ${data.length} bytes exceeds the agent's ${this.maxWrite}; split it`);
    await this.request({ op: 'WRITE', addr, width, data });
  }
  async load(addr: bigint, width: 8 | 16 | 32): Promise<number> {
    const p = await this.request({ op: 'LOAD', addr, width });
    if (p.length !== 4) throw new BridgeError('protocol', `${this.where}: LOAD reply carries ${p.length} bytes, expected 4`);
    return new DataView(p.buffer, p.byteOffset, 4).getUint32(0, true);
  }
  async store(addr: bigint, width: 8 | 16 | 32, value: number): Promise<void> {
    await this.request({ op: 'STORE', addr, width, value });
  }
  async fence(): Promise<void> {
    await this.request({ op: 'FENCE' });
  }
  async notify(line: number, value = 0): Promise<void> {
    await this.request({ op: 'NOTIFY', line, value });
  }
  /** Starts watching; resolves to the word's current (masked) value. */
  async watch(slot: number, addr: bigint, width: 8 | 16 | 32, mask: number, intervalUs = 0): Promise<number> {
    const p = await this.request({ op: 'WATCH', slot, width, mask, addr, intervalUs });
    if (p.length !== 4) throw new BridgeError('protocol', `${this.where}: WATCH reply carries ${p.length} bytes, expected 4`);
    return new DataView(p.buffer, p.byteOffset, 4).getUint32(0, true);
  }
  async unwatch(slot: number): Promise<void> {
    await this.request({ op: 'UNWATCH', slot });
  }
  /** Starts tapping a ring (PROTOCOL.md 3.3); resolves to the producer index it starts from and the entries the agent buffers. */
  async tap(spec: TapSpec): Promise<{ index: number; capacity: number }> {
    const p = await this.request({ op: 'TAP', ...spec });
    if (p.length !== 8) throw new BridgeError('protocol', `${this.where}: TAP reply carries ${p.length} bytes, expected 8`);
    const v = new DataView(p.buffer, p.byteOffset, 8);
    return { index: v.getUint32(0, true), capacity: v.getUint32(4, true) };
  }
  /** Reads tap entries from entry number `from`, which frees the ones before it; `max` 0 = as many as fit a reply. */
  async tapRead(from: number, slotSize: number, max = 0): Promise<TapEntries> {
    const p = await this.request({ op: 'TAP_READ', from, max });
    const r = decodeTapRead(p, slotSize);
    if (!r.ok) throw new BridgeError('protocol', `${this.where}: ${r.error}`);
    return r.value;
  }
  /** Stops following after a last look; resolves to the entry number after the last and, per ring, the slots lost after its last entry. */
  async untap(): Promise<{ end: number; lost: number[] }> {
    const p = await this.request({ op: 'UNTAP' });
    if (p.length < 4 || p.length % 4 !== 0) throw new BridgeError('protocol', `${this.where}: UNTAP reply carries ${p.length} bytes, expected 4 + 4 per ring`);
    const v = new DataView(p.buffer, p.byteOffset, p.length);
    return { end: v.getUint32(0, true), lost: Array.from({ length: p.length / 4 - 1 }, (_, i) => v.getUint32(4 + 4 * i, true)) };
  }
  async ping(data: Uint8Array): Promise<Uint8Array> {
    return this.request({ op: 'PING', data });
  }

  /** Queues a request; resolves to the reply payload after its status byte. */
  request(req: Request): Promise<Uint8Array> {
    if (this.closedBy) return Promise.reject(this.closedWith(req));
    return new Promise((resolve, reject) => {
      this.queue.push({
        req,
        type: OP[req.op],
        seq: 0,
        payload: encodeRequestPayload(req),
        wire: new Uint8Array(0),
        replyBytes:
          16 +
          (req.op === 'READ' ? req.length
          : req.op === 'HELLO' ? 256
          : req.op === 'PING' ? req.data.length
          : req.op === 'TAP_READ' ? (this.caps?.maxPayload ?? MIN_MAX_PAYLOAD)
          : 4),
        attempts: 0,
        resolve,
        reject,
      });
      this.pump();
    });
  }

  private closedWith(req: Request): BridgeError {
    return new BridgeError('closed', `${describeRequest(req)} not done: ${this.closedBy?.message ?? 'closed'}`);
  }

  private pump(): void {
    if (this.current || this.closedBy) return;
    const next = this.queue.shift();
    if (!next) return;
    next.seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    next.wire = encodeFrame(next.type, next.seq, next.payload);
    this.current = next;
    this.stats.requests++;
    this.transmit(next);
  }

  private transmit(p: Pending): void {
    p.attempts++;
    if (p.attempts > 1) this.stats.retransmits++;
    const lineMs = (p.wire.length + p.replyBytes) / this.bytesPerMs;
    this.cancelTimer = this.opts.runtime.setTimer(this.timeoutMs + Math.ceil(lineMs), () => this.expire(p));
    this.opts.send(p.wire);
  }

  private expire(p: Pending): void {
    if (this.current !== p) return;
    this.cancelTimer = null;
    if (p.attempts <= this.retries) {
      this.transmit(p);
      return;
    }
    this.finish(
      p,
      new BridgeError(
        'timeout',
        `${this.where}: no valid reply to ${describeRequest(p.req)} (seq ${p.seq}) after ${p.attempts} attempts of ${this.timeoutMs} ms; ` +
          `check that the agent runs, the cable and the baud rate (${this.stats.badFrames} corrupt frames seen so far)`,
      ),
    );
  }

  private finish(p: Pending, outcome: Uint8Array | BridgeError): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.current = null;
    if (outcome instanceof BridgeError) p.reject(outcome);
    else p.resolve(outcome);
    this.pump();
  }

  private onFrame(encoded: Uint8Array): void {
    const r = decodeFrame(encoded);
    if (!r.ok || r.value.version !== BRIDGE_VERSION) {
      this.stats.badFrames++;
      return;
    }
    const { type, seq, payload } = r.value;
    if (type === EVENT) {
      const e = decodeEvent(payload);
      if (!e.ok) {
        this.stats.badFrames++;
        return;
      }
      this.stats.events++;
      for (const l of this.eventListeners) l(e.value);
      return;
    }
    const p = this.current;
    if (!p || type !== (p.type | REPLY) || seq !== p.seq || payload.length === 0) {
      this.stats.staleReplies++;
      return;
    }
    const status = payload[0]!;
    if (status === STATUS.OK) {
      this.finish(p, payload.slice(1));
      return;
    }
    const addr = decodeErrorDetail(payload);
    this.finish(p, new BridgeError('status', `${this.where}: agent refused ${describeRequest(p.req)}: ${statusText(status)}${addr !== null && addr !== 0n ? ` (at ${hexNum(addr, 8)})` : ''}`, status));
  }
}
