/**
 * The one request/reply/event core every Workbench transport shares: the engine's utility-process
 * port, the web mode's WebSocket and the desktop page's MessagePort are each a thin binding to
 * `RpcChannel` (after VS Code's base/parts/ipc: ids, replies, events and cancellation written once
 * over a two-method channel).
 *
 * Wire messages, the same on every transport (JSON text on the WebSocket, structured clones on
 * ports):
 *   request  {id, method, params}          reply  {id, result} | {id, error}   (id null: unreadable request)
 *   cancel   {cancel: id}                  event  {event, data}
 * Errors are values (WorkbenchError) on the wire and at both ends: a call never rejects, and a
 * channel that closes answers every open call with the reason in words.
 */
import { describeValue } from './issues';
import { isReadOnly, METHOD_ACTIONS, WORKBENCH_METHODS, type WorkbenchError, type WorkbenchEvent, type WorkbenchMethod } from './workbench';
import { errorText } from '../util/errorText';
import type { Runtime } from '../util/runtime';

export type WorkbenchReply = { ok: true; result: unknown } | { ok: false; error: WorkbenchError };

export type RpcId = number | string;

export type RpcMessage =
  | { id: RpcId; method: unknown; params: unknown }
  | { cancel: RpcId }
  | { id: RpcId | null; result: unknown }
  | { id: RpcId | null; error: WorkbenchError }
  | WorkbenchEvent;

/** The least a transport offers: each binding turns its socket or port into this. */
export interface RpcChannel {
  send(message: RpcMessage): void;
  onMessage(listener: (message: unknown) => void): void;
  /** The other side went away; `reason` says how, as a sentence a user may read. */
  onClose(listener: (reason: string) => void): void;
}

/**
 * Told to a handler when its caller gave up. The part of AbortSignal both Node and the page have
 * (src/ has neither's types); a real AbortSignal fits it, so callers pass theirs.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Serves one request. Never rejects: every failure is a reply value. The server always gives a signal. */
export type RpcHandler = (method: unknown, params: unknown, signal?: CancelSignal) => Promise<WorkbenchReply>;

/** What a server needs of the engine: WorkbenchService, or a stand-in in tests. */
export interface WorkbenchBackend {
  handle: RpcHandler;
  onEvent(listener: (e: WorkbenchEvent) => void): () => void;
}

/** The CancelSignal a server hands each handler; `cancel` fires it once. */
class Cancellation implements CancelSignal {
  aborted = false;
  private readonly listeners = new Set<() => void>();

  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.add(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.delete(listener);
  }

  cancel(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const l of [...this.listeners]) l();
    this.listeners.clear();
  }
}

function isObject(m: unknown): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null && !Array.isArray(m);
}

function isId(v: unknown): v is RpcId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function badRequest(message: string, field?: string): WorkbenchError {
  return { code: 'bad-request', message, ...(field ? { field } : {}) };
}

// ---- server -------------------------------------------------------------------------------------

export interface RpcServerOptions {
  /** Messages that are not requests, and handlers that broke their promise, one line each. */
  log?: (line: string) => void;
}

export interface RpcServer {
  /** Sends an event to this client. */
  emit(event: WorkbenchEvent): void;
}

/**
 * Answers requests arriving on `channel` with `handler`, one reply per request id; `{cancel: id}`
 * fires that request's signal. A reply to a client that has gone is dropped by its channel.
 */
export function serveRpc(channel: RpcChannel, handler: RpcHandler, opts: RpcServerOptions = {}): RpcServer {
  const log = opts.log ?? (() => undefined);
  const open = new Map<RpcId, Cancellation>();
  const reply = (id: RpcId | null, error: WorkbenchError): void => channel.send({ id, error });

  const serve = async (id: RpcId, method: unknown, params: unknown): Promise<void> => {
    const cancellation = new Cancellation();
    open.set(id, cancellation);
    let r: WorkbenchReply;
    try {
      r = await handler(method, params, cancellation);
    } catch (e) {
      // A handler that broke its contract: its own text is for the log, never the reply.
      log(`${describeValue(method)} threw instead of answering: ${errorText(e)}`);
      r = { ok: false, error: { code: 'failed', message: 'the workbench hit an internal error; its log has the details', ...(typeof method === 'string' ? { method } : {}) } };
    } finally {
      open.delete(id);
    }
    channel.send(r.ok ? { id, result: r.result } : { id, error: r.error });
  };

  channel.onMessage((m) => {
    if (!isObject(m)) {
      log(`ignored a message that is not an object: ${describeValue(m)}`);
      return reply(null, badRequest(`expected an object {"id", "method", "params"}, saw ${describeValue(m)}`));
    }
    if ('cancel' in m) {
      open.get(m['cancel'] as RpcId)?.cancel();
      return;
    }
    const { id, method, params } = m;
    if (!isId(id)) return reply(null, badRequest(`expected "id" to be a number or a string the reply will carry, saw ${describeValue(id)}`, 'id'));
    void serve(id, method, params);
  });

  return { emit: (event) => channel.send(event) };
}

/**
 * A handler that writes an internal failure's own text (`error.detail`) to `log`, where the
 * user's message points; the reply still carries it for programs.
 */
export function logFailures(handler: RpcHandler, log: (line: string) => void): RpcHandler {
  return async (method, params, signal) => {
    const r = await handler(method, params, signal);
    if (!r.ok && r.error.detail) log(`${String(method)} failed: ${r.error.detail}`);
    return r;
  };
}

/**
 * A handler for a client that may only view the session (web mode: every client but the
 * controlling one): methods that change anything are refused while `controls()` is false.
 * Unknown methods pass on, to be refused by the handler's own validation.
 */
export function readOnlyGate(handler: RpcHandler, controls: () => boolean): RpcHandler {
  return (method, params, signal) => {
    if (typeof method === 'string' && Object.hasOwn(WORKBENCH_METHODS, method) && !controls() && !isReadOnly(method as WorkbenchMethod)) {
      const action = METHOD_ACTIONS[method as WorkbenchMethod];
      return Promise.resolve({
        ok: false,
        error: { code: 'read-only', method, message: `this window only views the session (another window controls it), so ${action} is not allowed here: take control in the header first` },
      });
    }
    return handler(method, params, signal);
  };
}

// ---- events -------------------------------------------------------------------------------------

export interface CoalescedEvents {
  emit(event: WorkbenchEvent): void;
  /** Drops what waits (the client went away). */
  stop(): void;
}

/**
 * Trace growth for one receiver: `trace.appended` events wait up to `ms` for more to join them
 * and go on as one with the counts summed (never one message per record); a `trace.reset` drops
 * what waits, since those counts belong to the trace before. Every other event passes at once.
 */
export function coalesceTraceGrowth(send: (event: WorkbenchEvent) => void, ms: number, runtime: Pick<Runtime, 'setTimer'>): CoalescedEvents {
  let pending: { count: number; total: number; dropped?: number } | null = null;
  let cancelTimer: (() => void) | null = null;
  const stop = (): void => {
    cancelTimer?.();
    cancelTimer = null;
    pending = null;
  };
  const flush = (): void => {
    cancelTimer = null;
    const data = pending;
    pending = null;
    if (data) send({ event: 'trace.appended', data });
  };
  return {
    emit(event) {
      if (event.event === 'trace.appended') {
        const { total, dropped } = event.data;
        pending = { count: (pending?.count ?? 0) + event.data.count, total, ...(dropped !== undefined ? { dropped } : {}) };
        cancelTimer ??= runtime.setTimer(ms, flush);
        return;
      }
      if (event.event === 'trace.reset') stop();
      send(event);
    },
    stop,
  };
}

// ---- client -------------------------------------------------------------------------------------

export interface RpcClientOptions {
  /** Replies that match no open call, events listeners threw on, one line each. */
  log?: (line: string) => void;
  /** Gives up waiting after this long: the call answers `timeout.text`. None by default. */
  timeout?: { ms(method: string): number; text(method: string, ms: number): string; runtime: Pick<Runtime, 'setTimer'> };
}

interface OpenCall {
  method: string;
  resolve: (r: WorkbenchReply) => void;
  done: () => void;
}

/**
 * Calls over `channel`: each gets an id and its own reply. A caller's signal sends `{cancel: id}`
 * and the call then answers whatever the handler made of it (a handler that finished first still
 * succeeds). When the channel closes, open and later calls answer the reason.
 */
export class RpcClient {
  private nextId = 1;
  private readonly open = new Map<RpcId, OpenCall>();
  private readonly listeners = new Set<(e: WorkbenchEvent) => void>();
  private closedBecause: string | null = null;
  private readonly log: (line: string) => void;

  constructor(
    private readonly channel: RpcChannel,
    private readonly opts: RpcClientOptions = {},
  ) {
    this.log = opts.log ?? (() => undefined);
    channel.onMessage((m) => this.receive(m));
    channel.onClose((reason) => this.close(reason));
  }

  /** Why the channel closed, or null while it is open. */
  get closed(): string | null {
    return this.closedBecause;
  }

  request(method: string, params: unknown, signal?: CancelSignal): Promise<WorkbenchReply> {
    if (this.closedBecause !== null) return Promise.resolve(failed(method, this.closedBecause));
    const id = this.nextId++;
    return new Promise((resolve) => {
      const cancel = (): void => this.channel.send({ cancel: id });
      const timeout = this.opts.timeout;
      const ms = timeout?.ms(method) ?? 0;
      const stopTimer = timeout?.runtime.setTimer(ms, () => this.settle(id, failed(method, timeout.text(method, ms))));
      const done = (): void => {
        stopTimer?.();
        signal?.removeEventListener('abort', cancel);
      };
      this.open.set(id, { method, resolve, done });
      try {
        this.channel.send({ id, method, params });
      } catch (e) {
        // Params a port cannot clone, a socket that is not open: the transport's words are for the log.
        this.log(`sending ${method} failed: ${errorText(e)}`);
        return this.settle(id, failed(method, 'the request could not be sent to the workbench; its log has the details'));
      }
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel);
    });
  }

  onEvent(listener: (e: WorkbenchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Answers open and later calls with `reason` (the first reason given stands). */
  close(reason: string): void {
    if (this.closedBecause !== null) return;
    this.closedBecause = reason;
    for (const [id, call] of this.open) this.settle(id, failed(call.method, reason));
  }

  private settle(id: RpcId, reply: WorkbenchReply): void {
    const call = this.open.get(id);
    if (!call) return;
    this.open.delete(id);
    call.done();
    call.resolve(reply);
  }

  private receive(m: unknown): void {
    if (!isObject(m)) return this.log(`ignored a message that is not an object: ${describeValue(m)}`);
    if (typeof m['event'] === 'string') {
      const event = m as WorkbenchEvent;
      for (const l of [...this.listeners]) {
        try {
          l(event);
        } catch (e) {
          this.log(`a listener of ${event.event} failed: ${errorText(e)}`);
        }
      }
      return;
    }
    const id = m['id'];
    if (!isId(id) || !this.open.has(id)) {
      // A reply without a call: the server could not read a request (id null), or the call gave up.
      const error = m['error'] as WorkbenchError | undefined;
      return this.log(`a reply to no open request (id ${describeValue(id)})${error ? `: ${error.message}` : ''}`);
    }
    this.settle(id, 'error' in m ? { ok: false, error: m['error'] as WorkbenchError } : { ok: true, result: m['result'] });
  }
}

function failed(method: string, message: string): WorkbenchReply {
  return { ok: false, error: { code: 'failed', method, message } };
}
