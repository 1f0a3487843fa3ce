/**
 * The main process's end of the engine's control channel (engineHost.ts has the framing): matches
 * replies to requests by id, hands events to listeners, passes trace ports on, and — when the
 * engine process dies — answers every open request with what happened instead of leaving the
 * page waiting forever.
 */
import type { WorkbenchEvent } from '../../../src/api/workbench';
import type { EngineReply, FromEngine, ToEngine } from './engineHost';
import type { HostPort } from './port';

function isFromEngine(m: unknown): m is FromEngine {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return t === 'ready' || t === 'response' || t === 'event' || t === 'closed';
}

export class EngineClient {
  private nextId = 1;
  private readonly pending = new Map<number, { method: string; resolve: (r: EngineReply) => void }>();
  private readonly listeners = new Set<(e: WorkbenchEvent) => void>();
  private failure: string | null = null;
  private onClosed: (() => void) | null = null;
  readonly ready: Promise<void>;

  constructor(
    private readonly port: HostPort,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`engine client: ${line}\n`),
  ) {
    let ready!: () => void;
    this.ready = new Promise((resolve) => (ready = resolve));
    port.onMessage((m) => {
      if (!isFromEngine(m)) {
        this.log(`ignored an engine message that is not {type: "ready" | "response" | "event" | "closed"}: ${JSON.stringify(m)?.slice(0, 120)}`);
        return;
      }
      if (m.type === 'ready') ready();
      else if (m.type === 'event') for (const l of this.listeners) l(m.event);
      else if (m.type === 'closed') this.onClosed?.();
      else {
        const p = this.pending.get(m.id);
        if (!p) return this.log(`a reply to request ${m.id}, which is not open`);
        this.pending.delete(m.id);
        // An internal failure's own text goes to the log the message points to (Help → Show Logs).
        if (!m.reply.ok && m.reply.error.detail) this.log(`${p.method} failed: ${m.reply.error.detail}`);
        p.resolve(m.reply);
      }
    });
  }

  /** Sends a request the gate let through. Never rejects: a dead engine is an error reply. */
  request(method: string, params: unknown): Promise<EngineReply> {
    if (this.failure !== null) return Promise.resolve(this.failed(method));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { method, resolve });
      this.post({ type: 'request', id, method, params });
    });
  }

  onEvent(listener: (e: WorkbenchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Gives the engine one end of a page's trace channel. */
  attachTracePort(port: HostPort): void {
    if (this.failure === null) this.post({ type: 'trace-port' }, [port]);
  }

  /** Asks the engine to end its session and stop; resolves when it said so. */
  shutdown(): Promise<void> {
    if (this.failure !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.onClosed = resolve;
      this.post({ type: 'shutdown' });
    });
  }

  /** The engine is gone (its process exited): open and later requests get `reason` as their error. */
  fail(reason: string): void {
    if (this.failure !== null) return;
    this.failure = reason;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve(this.failed(p.method));
    }
    this.onClosed?.();
  }

  private failed(method: string): EngineReply {
    return { ok: false, error: { code: 'failed', method, message: this.failure! } };
  }

  private post(m: ToEngine, ports?: readonly HostPort[]): void {
    this.port.post(m, ports);
  }
}
