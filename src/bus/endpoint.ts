/**
 * The bus endpoint: one per role, over a MessageQueue and the two doorbells. It
 *
 * - sends with backpressure (bounded retries, then an error value naming the stuck index) and
 *   rings the doorbell once per message (QEMU's drain loop takes one message per doorbell and
 *   spins on an empty ring, docs/peers.md §1.2), never when nothing was sent;
 * - drains the incoming ring on doorbell-in, after a request for a short busy-poll (`spinUs`,
 *   because waking a waiting thread costs milliseconds), and on a timer for polling links;
 * - reports every message in and out to the observers before interpreting it, trimmed to
 *   msg_size (the whole slot when msg_size is not usable), so a trace holds garbage too, each
 *   with the matcher's verdict (matcher.ts) so a recorder pairs exactly what the engine did,
 *   and every doorbell it rings or receives, where it happens among those messages;
 * - keeps one outstanding request per dev_num (bus messages have their own lane) and matches
 *   responses with the one rule in matcher.ts; in R0 a non-event message arriving at the
 *   driver answers the pending request (the OpenAMP device echoes the request without the
 *   response bit). A response that answers the pending request but is malformed, names
 *   another dev_num or msg_id with its token, or carries another token (not one already answered
 *   or timed out), fails that request at once with what the board did: its real answer would
 *   not be told from a stray one, and waiting for the timeout would say "no response", which is false;
 * - never sends a response-typed message in the driver role (QEMU asserts on one,
 *   docs/peers.md §1.2);
 * - routes incoming requests and events to handlers per dev_num / bus.
 *
 * Wire faults are values reported to the observers; nothing thrown by a handler or an observer
 * leaves the drain loop.
 */
import { decodeHeader, HEADER_SIZE, lookupMessage, type Direction, type Header, type Problem, type Revision } from '../protocol/index';
import { errorText } from '../util/errorText';
import { hexNum } from '../util/hex';
import { ok, type Fail, type Ok, type Result } from '../util/result';
import type { Runtime } from '../util/runtime';
import { Serial } from './formats/common';
import type { DoorbellIn, DoorbellOut } from './link';
import { checkFraming, describeMessage, framingText, Matcher, noResponseText, wrongTokenText, type Framing, type MatchEntry, type Verdict, type VerdictKind } from './matcher';
import type { BusRole, MessageQueue, QueueProblem } from './queue';

/** The matcher's verdict on a message: a request sent (its id), or what a response was to which request (-1: none). */
export interface WireMatch {
  kind: 'request' | VerdictKind;
  requestId: number;
  /** Matched by (dev_num, msg_id): the peer answered with token 0. */
  fallback: boolean;
}

export interface WireMessage {
  direction: Direction;
  /** The message trimmed to msg_size (or the whole slot when msg_size is unusable). */
  bytes: Uint8Array;
  monoNs: bigint;
  /** The verdict on a request sent or a response received; null for everything else. */
  match: WireMatch | null;
}

export type EndpointProblem =
  | { kind: 'queue'; problem: QueueProblem; monoNs: bigint }
  /** `requestId`: the request a no-response is about (its WireMatch id). */
  | { kind: 'message'; problem: Problem; direction: Direction; bytes: Uint8Array; monoNs: bigint; requestId?: number }
  | { kind: 'handler'; reason: string; monoNs: bigint };

export interface EndpointObserver {
  onMessage?(message: WireMessage): void;
  onProblem?(problem: EndpointProblem): void;
  /** A doorbell: this endpoint rings its peer (outbound), or the peer's doorbell arrives (inbound), before the drain it starts. */
  onDoorbell?(direction: Direction): void;
}

export interface EndpointError {
  code: 'no-response' | 'malformed-response' | 'wrong-dev-num' | 'wrong-msg-id' | 'wrong-token' | 'link-lost' | 'queue-full' | 'queue-fault' | 'too-large' | 'not-allowed' | 'doorbell' | 'closed';
  message: string;
}

/** The response's bytes, and how long after the request they came. */
export type RequestResult = (Ok<Uint8Array> & { latencyNs: number }) | Fail<EndpointError>;
export type SendResult = Result<void, EndpointError>;
/** How many of the batch went out, whether or not all did. */
export type BatchResult = Result<void, EndpointError> & { sent: number };

export interface IncomingMessage {
  header: Header;
  bytes: Uint8Array;
  monoNs: bigint;
}

/** A request handler may answer with the response bytes; the endpoint sends them. */
export type RequestHandler = (request: IncomingMessage) => Uint8Array | null | undefined | void | Promise<Uint8Array | null | undefined | void>;
export type EventHandler = (event: IncomingMessage) => void;
/** A dev_num, the bus itself, or everything not routed elsewhere. */
export type Route = number | 'bus' | 'any';

export interface EndpointOptions {
  queue: MessageQueue;
  doorbellOut: DoorbellOut;
  doorbellIn: DoorbellIn;
  revision: Revision;
  runtime: Runtime;
  observer?: EndpointObserver;
  /** Backpressure when the queue is full: retries × delay (default 1000 × 10 ms, like Linux, docs/amp-bus.md §4.2). */
  fullRetries?: number;
  fullRetryDelayMs?: number;
  /** Ring once per message (default) or once per `sendBatch` for peers that drain fully. */
  doorbellPerMessage?: boolean;
  /** Busy-poll the incoming ring for this long after a request before relying on the doorbell (default 200). */
  spinUs?: number;
  /** Periodic drain; defaults to 1 ms when doorbellIn.mode is 'poll', off otherwise. */
  pollMs?: number;
  /** R3/R4: the first token to hand out (default 1; tokens run up to 0xffff, then wrap to 1). */
  firstToken?: number;
}

interface Pending extends MatchEntry {
  lane: string;
  bytes: Uint8Array;
  header: Header;
  timeoutMs: number;
  sentNs: bigint | null;
  /** Handed to the matcher (at the first attempt to place it). */
  matching: boolean;
  done: boolean;
  cancelTimer: (() => void) | null;
  resolve: (result: RequestResult) => void;
}

interface Lane {
  current: Pending | null;
  waiting: Pending[];
}

const DEFAULT_SPIN_US = 200;
const SPIN_MAX_ROUNDS = 10_000;

function duration(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/**
 * The message in a slot copied out of a queue: trimmed to msg_size, or the whole slot (with the
 * problem saying why) when msg_size is unusable. The endpoint and the passive monitor read slots
 * by this one rule.
 */
export function slotMessage(slot: Uint8Array, revision: Revision): { header: Header | null; bytes: Uint8Array; problem: Problem | null; framing: Framing | null } {
  const header = decodeHeader(slot, revision);
  if (!header) {
    return { header, bytes: slot, framing: null, problem: { code: 'truncated', offset: slot.length, reason: `a ${slot.length}-byte slot cannot hold the ${HEADER_SIZE[revision]}-byte ${revision} header` } };
  }
  if (revision === 'r0') return { header, bytes: slot.subarray(0, Math.min(header.msgSize, slot.length)), problem: null, framing: null };
  const framing = checkFraming(revision, header.msgSize, slot.length);
  if (framing) return { header, bytes: slot, framing, problem: { code: framing.code, offset: framing.offset, reason: `${framingText(framing, false)}; recorded the whole slot` } };
  return { header, bytes: slot.subarray(0, header.msgSize), problem: null, framing: null };
}

export class BusEndpoint {
  readonly role: BusRole;
  readonly revision: Revision;
  private readonly q: MessageQueue;
  private readonly rt: Runtime;
  private readonly out: DoorbellOut;
  private readonly observers: EndpointObserver[] = [];
  private readonly fullRetries: number;
  private readonly fullRetryDelayMs: number;
  private readonly perMessageDoorbell: boolean;
  private readonly spinNs: bigint;
  private readonly hasToken: boolean;
  private readonly inbound: Direction;
  private readonly outbound: Direction;
  private readonly txLock = new Serial();
  private readonly lanes = new Map<string, Lane>();
  private readonly matcher: Matcher<Pending>;
  private readonly requestHandlers = new Map<Route, RequestHandler>();
  private readonly eventHandlers = new Map<Route, Set<EventHandler>>();
  private readonly flaggedMismatch = new Set<string>();
  private serving: Promise<void> = Promise.resolve();
  private nextToken = 1;
  private draining = false;
  private drainAgain = false;
  private drainRun: Promise<void> = Promise.resolve();
  private closed = false;
  /** Why the link died (abort): every request and send fails with it. */
  private lostReason: string | null = null;
  private readonly unsubscribe: () => void;
  private cancelPoll: (() => void) | null = null;

  constructor(opts: EndpointOptions) {
    this.q = opts.queue;
    this.role = opts.queue.role;
    this.revision = opts.revision;
    this.rt = opts.runtime;
    this.out = opts.doorbellOut;
    if (opts.observer) this.observers.push(opts.observer);
    this.fullRetries = opts.fullRetries ?? 1000;
    this.fullRetryDelayMs = opts.fullRetryDelayMs ?? 10;
    this.perMessageDoorbell = opts.doorbellPerMessage ?? true;
    this.spinNs = BigInt(Math.round((opts.spinUs ?? DEFAULT_SPIN_US) * 1000));
    this.hasToken = opts.revision === 'r3' || opts.revision === 'r4';
    this.matcher = new Matcher(opts.revision);
    const first = opts.firstToken ?? 1;
    this.nextToken = Number.isInteger(first) && first >= 1 && first <= 0xffff ? first : 1;
    this.inbound = this.role === 'driver' ? 'device-to-driver' : 'driver-to-device';
    this.outbound = this.role === 'driver' ? 'driver-to-device' : 'device-to-driver';
    this.unsubscribe = opts.doorbellIn.subscribe(() => {
      this.emitDoorbell(this.inbound);
      void this.drain();
    });
    const pollMs = opts.pollMs ?? (opts.doorbellIn.mode === 'poll' ? 1 : 0);
    if (pollMs > 0) this.schedulePoll(pollMs);
    // Whatever the peer queued before we subscribed (its doorbell is gone): after the caller has
    // had the chance to add observers and handlers in the same tick.
    void Promise.resolve().then(() => this.drain());
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: EndpointObserver): () => void {
    this.observers.push(observer);
    return () => {
      const i = this.observers.indexOf(observer);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  onRequest(route: Route, handler: RequestHandler): () => void {
    this.requestHandlers.set(route, handler);
    return () => {
      if (this.requestHandlers.get(route) === handler) this.requestHandlers.delete(route);
    };
  }

  onEvent(route: Route, handler: EventHandler): () => void {
    let set = this.eventHandlers.get(route);
    if (!set) this.eventHandlers.set(route, (set = new Set()));
    set.add(handler);
    return () => void set.delete(handler);
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** Sends one message (backpressure, one doorbell). */
  send(bytes: Uint8Array): Promise<SendResult> {
    return this.txLock.run(() => this.transmit(bytes, null));
  }

  /**
   * Sends messages in order, as many per queue call as fit; rings once per message, or once
   * per placed group when `doorbellPerMessage` is false.
   */
  sendBatch(messages: readonly Uint8Array[]): Promise<BatchResult> {
    return this.txLock.run(async () => {
      for (const m of messages) {
        const err = this.checkOutgoing(m);
        if (err) return { ok: false, sent: 0, error: err };
      }
      let sent = 0;
      const full = this.backoff();
      while (sent < messages.length) {
        const stopped = this.stopped('sendBatch');
        if (stopped) return { ok: false, sent, error: stopped };
        const group = messages.slice(sent);
        const placed = await this.q.sendBatch(group);
        if (placed === 0) {
          if (!(await full.wait())) return { ok: false, sent, error: await this.fullError() };
          continue;
        }
        full.reset();
        const now = this.rt.monoNs();
        for (let i = 0; i < placed; i++) this.emitMessage({ direction: this.outbound, bytes: group[i]!, monoNs: now, match: null });
        sent += placed;
        const err = await this.ring(this.perMessageDoorbell ? placed : 1);
        if (err) return { ok: false, sent, error: err };
      }
      return { ...ok(), sent };
    });
  }

  /** What must not be sent: a message that does not fit a slot; a response from the driver role. */
  private checkOutgoing(bytes: Uint8Array): EndpointError | null {
    if (bytes.length === 0 || bytes.length > this.q.slotSize) {
      return { code: 'too-large', message: `a ${bytes.length}-byte message does not fit the ${this.q.slotSize}-byte ${this.q.format} slot` };
    }
    const h = this.role === 'driver' ? decodeHeader(bytes, this.revision) : null;
    if (h?.kind === 'response') {
      // QEMU's device asserts on a response-typed message (docs/peers.md §1.2); the spec has it dropped.
      return { code: 'not-allowed', message: `the driver never sends a response-typed message; refused ${describeMessage(this.revision, h, ' response')}` };
    }
    return null;
  }

  /** Why nothing can be sent any more, if so. */
  private stopped(what: string): EndpointError | null {
    if (this.lostReason !== null) return { code: 'link-lost', message: this.lostReason };
    if (this.closed) return this.closedError(what);
    if (this.q.fault) return this.faultError(this.q.fault);
    return null;
  }

  /**
   * A request is outstanding from just before each try to place it: over a bridged window the
   * peer may see the index store, and answer, before the store's own acknowledgement arrives here.
   */
  private async transmit(bytes: Uint8Array, request: Pending | null): Promise<SendResult> {
    const refused = this.checkOutgoing(bytes);
    if (refused) return { ok: false, error: refused };
    const full = this.backoff();
    for (;;) {
      const stopped = this.stopped('send');
      if (stopped) return { ok: false, error: stopped };
      if (request) this.attempt(request);
      if ((await this.q.send(bytes)) === 'ok') break;
      if (!(await full.wait())) return { ok: false, error: await this.fullError() };
    }
    const now = this.rt.monoNs();
    const match: WireMatch | null = request ? { kind: 'request', requestId: request.id, fallback: false } : null;
    this.emitMessage({ direction: this.outbound, bytes, monoNs: now, match });
    const err = await this.ring(1);
    return err ? { ok: false, error: err } : ok();
  }

  /**
   * Waiting for room in a full ring: retry at once for `spinUs` (the consumer on the other side
   * is usually just behind, and a timer sleep costs a millisecond), then sleep between retries.
   * Only the sleeps count against `fullRetries`. `wait()` resolves false when they are used up.
   */
  private backoff(): { wait(): Promise<boolean>; reset(): void } {
    let since: bigint | null = null;
    let sleeps = 0;
    return {
      wait: async () => {
        since ??= this.rt.monoNs();
        if (this.rt.monoNs() - since < this.spinNs) return true;
        if (sleeps++ >= this.fullRetries) return false;
        await this.rt.sleep(this.fullRetryDelayMs);
        return true;
      },
      reset: () => {
        since = null;
        sleeps = 0;
      },
    };
  }

  private async ring(times: number): Promise<EndpointError | null> {
    try {
      for (let i = 0; i < times; i++) {
        this.emitDoorbell(this.outbound);
        await this.out.ring();
      }
      return null;
    } catch (e) {
      return { code: 'doorbell', message: `ringing the ${this.outbound} doorbell failed: ${errorText(e)}` };
    }
  }

  private async fullError(): Promise<EndpointError> {
    const waited = duration(this.fullRetries * this.fullRetryDelayMs);
    const [dir, peer] = this.role === 'driver' ? ['driver→device', 'device'] : ['device→driver', 'driver'];
    let stuck = '';
    try {
      const s = await this.q.state();
      const idx = this.role === 'driver' ? s.driverToDevice.consumer : s.deviceToDriver.consumer;
      stuck = ` (${peer}-side consumer index stuck at ${idx})`;
    } catch {
      // state() is diagnostic only
    }
    return { code: 'queue-full', message: `${dir} queue full for ${waited}: the ${peer} is not consuming${stuck}` };
  }

  private faultError(fault: QueueProblem): EndpointError {
    return { code: 'queue-fault', message: `the ${this.q.format} queue stopped: ${fault.reason}` };
  }

  private closedError(what: string): EndpointError {
    return { code: 'closed', message: `${what} on a closed bus endpoint` };
  }

  private attempt(p: Pending): void {
    p.sentNs = this.rt.monoNs();
    if (p.matching) return;
    p.matching = true;
    this.matcher.request(p);
  }

  // ---- requests --------------------------------------------------------------------------------

  /**
   * Sends a request and waits for its response. R3/R4: the endpoint writes a fresh token into
   * bytes 4–5 (of its own copy). Requests to the same dev_num (or to the bus) go one at a time,
   * in call order.
   */
  request(bytes: Uint8Array, opts: { timeoutMs: number }): Promise<RequestResult> {
    const header = decodeHeader(bytes, this.revision);
    if (!header || header.kind !== 'request') {
      throw new RangeError(`request() needs a ${this.revision} request message, got ${header ? `a ${header.kind}` : `${bytes.length} bytes`}`);
    }
    if (this.lostReason !== null) return Promise.resolve({ ok: false, error: { code: 'link-lost', message: this.lostReason } });
    if (this.closed) return Promise.resolve({ ok: false, error: this.closedError('request') });
    const copy = new Uint8Array(bytes);
    let token = 0;
    if (this.hasToken) {
      token = this.takeToken();
      copy[4] = token & 0xff;
      copy[5] = token >>> 8;
    }
    const lane = laneKey(header.bus, header.devNum);
    return new Promise<RequestResult>((resolve) => {
      const p: Pending = {
        type: header.type,
        bus: header.bus,
        msgId: header.msgId,
        devNum: header.devNum,
        token,
        id: 0,
        lane,
        bytes: copy,
        header: { ...header, token },
        timeoutMs: opts.timeoutMs,
        sentNs: null,
        matching: false,
        done: false,
        cancelTimer: null,
        resolve,
      };
      this.laneOf(lane).waiting.push(p);
      this.pump(lane);
    });
  }

  private takeToken(): number {
    const token = this.nextToken;
    this.nextToken = token === 0xffff ? 1 : token + 1;
    return token;
  }

  private laneOf(key: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = { current: null, waiting: [] }));
    return lane;
  }

  private pump(key: string): void {
    const lane = this.laneOf(key);
    if (lane.current || this.closed || this.lostReason !== null) return;
    const next = lane.waiting.shift();
    if (!next) return;
    lane.current = next;
    void this.start(next);
  }

  private async start(p: Pending): Promise<void> {
    try {
      const sent = await this.txLock.run(() => this.transmit(p.bytes, p));
      if (!sent.ok) return this.finish(p, sent);
      if (p.done) return;
      p.cancelTimer = this.rt.setTimer(p.timeoutMs, () => this.expire(p));
      await this.spin(() => p.done);
    } catch (e) {
      this.finish(p, { ok: false, error: { code: 'queue-fault', message: `sending ${this.describe(p.header)} failed: ${errorText(e)}` } });
    }
  }

  /** The request's timeout: the matcher now takes an answer to it as late, and observers hear it at this moment. */
  private expire(p: Pending): void {
    if (p.done) return;
    this.matcher.expire(p);
    const message = noResponseText(this.revision, p.header, p.timeoutMs);
    this.emitProblem({ kind: 'message', problem: { code: 'no-response', offset: 0, reason: message }, direction: this.outbound, bytes: p.bytes, monoNs: this.rt.monoNs(), requestId: p.id });
    this.finish(p, { ok: false, error: { code: 'no-response', message } });
  }

  /** Ends a request; one that ends unanswered for another reason than its timeout leaves the matcher. */
  private finish(p: Pending, result: RequestResult): void {
    if (p.done) return;
    p.done = true;
    p.cancelTimer?.();
    if (!result.ok && result.error.code !== 'no-response') this.matcher.cancel(p);
    const lane = this.laneOf(p.lane);
    if (lane.current === p) lane.current = null;
    p.resolve(result);
    this.pump(p.lane);
  }

  private describe(h: Header, what = ''): string {
    return describeMessage(this.revision, h, what);
  }

  /** Busy-polls the incoming ring until `done()` or `spinUs` passed (bounded also by rounds). */
  private async spin(done: () => boolean): Promise<void> {
    if (this.spinNs <= 0n) return;
    const start = this.rt.monoNs();
    for (let round = 0; round < SPIN_MAX_ROUNDS && !done() && !this.closed && this.lostReason === null; round++) {
      await this.drain();
      if (this.rt.monoNs() - start >= this.spinNs) break;
    }
  }

  // ---- receiving -------------------------------------------------------------------------------

  /** Drains the incoming ring until it is empty; concurrent calls join the running drain. */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.draining) {
      this.drainAgain = true;
      return this.drainRun;
    }
    this.draining = true;
    this.drainRun = this.drainLoop();
    return this.drainRun;
  }

  private async drainLoop(): Promise<void> {
    try {
      do {
        this.drainAgain = false;
        for (;;) {
          if (this.closed) return;
          let got: { messages: Uint8Array[]; problem?: QueueProblem };
          try {
            got = await this.q.recv();
          } catch (e) {
            this.emitProblem({ kind: 'handler', reason: `receiving from the ${this.q.format} queue threw: ${errorText(e)}`, monoNs: this.rt.monoNs() });
            return;
          }
          const now = this.rt.monoNs();
          if (got.problem) this.emitProblem({ kind: 'queue', problem: got.problem, monoNs: now });
          for (const slot of got.messages) this.incoming(slot, now);
          if (got.messages.length === 0 && !got.problem) break;
        }
      } while (this.drainAgain);
    } finally {
      this.draining = false;
    }
  }

  /** Records one slot with the matcher's verdict, then interprets it. */
  private incoming(slot: Uint8Array, monoNs: bigint): void {
    const { header, bytes, problem, framing } = slotMessage(slot, this.revision);
    const direction = this.inbound;
    const answersUs = header !== null && (header.kind === 'response' || (this.revision === 'r0' && this.role === 'driver' && header.kind === 'request'));
    const verdict = answersUs ? this.matcher.response(header) : null;
    const match: WireMatch | null = verdict ? { kind: verdict.kind, requestId: verdict.request?.id ?? -1, fallback: verdict.fallback } : null;
    this.emitMessage({ direction, bytes, monoNs, match });
    if (problem) this.emitProblem({ kind: 'message', problem, direction, bytes, monoNs });
    if (!header) return;
    const message: IncomingMessage = { header, bytes, monoNs };
    if (verdict) this.settle(verdict, message, framing);
    else if (problem) return; // recorded; a malformed message is not interpreted
    else if (header.kind === 'event') this.dispatchEvent(message);
    else this.serveRequest(message);
  }

  /** Acts on the matcher's verdict: completes or fails the request it answers, reports the rest. */
  private settle(v: Verdict<Pending>, m: IncomingMessage, framing: Framing | null): void {
    const h = m.header;
    const p = v.request;
    switch (v.kind) {
      case 'answer': {
        if (framing) {
          const message = `malformed ${this.describe(p!.header, ' response')}: ${framingText(framing)}`;
          return this.finish(p!, { ok: false, error: { code: 'malformed-response', message } });
        }
        if (v.fallback) this.flagFallback(p!, m);
        return this.finish(p!, { ok: true, value: m.bytes, latencyNs: Number(m.monoNs - (p!.sentNs ?? m.monoNs)) });
      }
      case 'wrong-dev-num': {
        const message = `wrong dev_num in the ${this.describe(p!.header, ' response')}: byte 2 names dev_num ${h.devNum} (expected ${p!.devNum}, saw ${h.devNum})`;
        this.report(m, 'wrong-dev-num', 2, message);
        return this.finish(p!, { ok: false, error: { code: 'wrong-dev-num', message } });
      }
      case 'wrong-msg-id': {
        const seen = lookupMessage(this.revision, h.bus, h.msgId).name;
        const message = `wrong msg_id in the ${this.describe(p!.header, ' response')}: byte 1 names ${seen} (expected ${hexNum(p!.msgId, 2)}, saw ${hexNum(h.msgId, 2)})`;
        this.report(m, 'wrong-msg-id', 1, message);
        return this.finish(p!, { ok: false, error: { code: 'wrong-msg-id', message } });
      }
      case 'wrong-token': {
        const message = wrongTokenText(this.revision, p!.header, h.token);
        this.report(m, 'wrong-token', 4, message);
        return this.finish(p!, { ok: false, error: { code: 'wrong-token', message } });
      }
      case 'duplicate':
        return this.report(m, 'duplicate', 4, `response ${this.describe(h)} repeats the answer to ${this.describe(p!.header)}, already answered; ignored`);
      case 'late':
        return this.report(m, 'late', 4, `response ${this.describe(h)} is a late answer to ${this.describe(p!.header)}, which timed out; ignored`);
      case 'unmatched':
        return this.report(m, 'unmatched-response', 0, `response ${this.describe(h)} answers no outstanding request; dropped`);
    }
  }

  private report(m: IncomingMessage, code: Problem['code'], offset: number, reason: string): void {
    this.emitProblem({ kind: 'message', problem: { code, offset, reason }, direction: this.inbound, bytes: m.bytes, monoNs: m.monoNs });
  }

  /** A peer that answers with token 0 is tolerated; said once per message type. */
  private flagFallback(p: Pending, m: IncomingMessage): void {
    const key = `${p.bus ? 'bus' : 'transport'}:${p.msgId}`;
    if (this.flaggedMismatch.has(key)) return;
    this.flaggedMismatch.add(key);
    const reason = `response to ${this.describe(p.header)} carries token 0x0000; matched by (dev_num, msg_id) instead (QEMU answers bus requests with token 0); reported once per message type`;
    this.report(m, 'token-mismatch', 4, reason);
  }

  private dispatchEvent(m: IncomingMessage): void {
    this.callEventHandlers(this.eventHandlers.get(m.header.bus ? 'bus' : m.header.devNum), m);
    this.callEventHandlers(this.eventHandlers.get('any'), m);
  }

  private callEventHandlers(handlers: Set<EventHandler> | undefined, m: IncomingMessage): void {
    if (!handlers) return;
    for (const handler of handlers) {
      try {
        handler(m);
      } catch (e) {
        this.emitProblem({ kind: 'handler', reason: `event handler for ${this.describe(m.header)} threw: ${errorText(e)}`, monoNs: this.rt.monoNs() });
      }
    }
  }

  /** Requests are served one at a time in arrival order; an answer is sent back as is. */
  private serveRequest(m: IncomingMessage): void {
    const route: Route = m.header.bus ? 'bus' : m.header.devNum;
    const handler = this.requestHandlers.get(route) ?? this.requestHandlers.get('any');
    if (!handler) return;
    this.serving = this.serving.then(async () => {
      try {
        const answer = await handler(m);
        if (answer instanceof Uint8Array && !this.closed) {
          const sent = await this.send(answer);
          if (!sent.ok) this.emitProblem({ kind: 'handler', reason: `answer to ${this.describe(m.header)} not sent: ${sent.error.message}`, monoNs: this.rt.monoNs() });
        }
      } catch (e) {
        this.emitProblem({ kind: 'handler', reason: `request handler for ${this.describe(m.header)} threw: ${errorText(e)}`, monoNs: this.rt.monoNs() });
      }
    });
  }

  // ---- observers, polling, close ---------------------------------------------------------------

  private emitMessage(m: WireMessage): void {
    this.tell((o) => o.onMessage?.(m));
  }

  private emitProblem(p: EndpointProblem): void {
    this.tell((o) => o.onProblem?.(p));
  }

  private emitDoorbell(direction: Direction): void {
    this.tell((o) => o.onDoorbell?.(direction));
  }

  // An observer that throws is not allowed to stop the bus; its error has nowhere better to go.
  private tell(call: (o: EndpointObserver) => void): void {
    for (const o of this.observers) {
      try {
        call(o);
      } catch {
        // ignored, see above
      }
    }
  }

  private schedulePoll(ms: number): void {
    this.cancelPoll = this.rt.setTimer(ms, () => {
      if (this.closed) return;
      void this.drain().then(() => {
        if (!this.closed) this.schedulePoll(ms);
      });
    });
  }

  /**
   * The link is gone (the session says why): every outstanding and queued request fails at once
   * with `reason`, and so does every later request and send. What the peer already published
   * can still be drained (into the capture).
   */
  abort(reason: string): void {
    if (this.lostReason !== null || this.closed) return;
    this.lostReason = reason;
    this.failAll(() => ({ code: 'link-lost', message: reason }));
  }

  /** Unsubscribes, stops polling and fails every pending request with a 'closed' error. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.cancelPoll?.();
    this.failAll((p) => ({ code: 'closed', message: `bus endpoint closed while ${this.describe(p.header)} waited for its response` }));
  }

  private failAll(error: (p: Pending) => EndpointError): void {
    for (const lane of this.lanes.values()) {
      const all = [...(lane.current ? [lane.current] : []), ...lane.waiting];
      lane.waiting = [];
      for (const p of all) this.finish(p, { ok: false, error: error(p) });
    }
  }
}

function laneKey(bus: boolean, devNum: number): string {
  return bus ? 'bus' : `dev${devNum}`;
}
