/**
 * The engine side of the desktop app: WorkbenchService behind a message port. In the app it runs
 * in an Electron utility process (main/app/engine.ts hands it process.parentPort), so a wedged
 * board or addon takes down this child only, never the window (stack.md §4 "Process layout");
 * in tests it runs over a worker_threads MessageChannel.
 *
 * Control channel (to and from main/app):
 *   main → engine  {type:'request', id, method, params} · {type:'trace-port'} + one port · {type:'shutdown'}
 *   engine → main  {type:'ready'} · {type:'response', id, reply} · {type:'event', event} · {type:'closed'}
 * Trace ports (one per page, handed over by main, the page holds the other end): engine → page
 * `{event:'trace.appended', data:{count, total}}`, coalesced to at most one per `coalesceMs` with
 * the counts summed — never one message per record (stack.md §4 "High-rate stream", §6). Every
 * other event goes to main on the control channel, which forwards it to the pages.
 */
import type { WorkbenchError, WorkbenchEvent } from '../../../src/api/workbench';
import type { WorkbenchBackend } from '../web/server';
import type { HostPort } from './port';

export type EngineReply = { ok: true; result: unknown } | { ok: false; error: WorkbenchError };

export type ToEngine = { type: 'request'; id: number; method: string; params: unknown } | { type: 'trace-port' } | { type: 'shutdown' };

export type FromEngine = { type: 'ready' } | { type: 'response'; id: number; reply: EngineReply } | { type: 'event'; event: WorkbenchEvent } | { type: 'closed' };

export interface EngineBackend extends WorkbenchBackend {
  close(): Promise<void>;
}

export interface EngineHostOptions {
  /** Longest a trace.appended waits for more to join it (default 50 ms, as web mode). */
  coalesceMs?: number;
  /** Messages the host could not use, one line each (default: stderr). */
  log?: (line: string) => void;
}

export interface EngineHost {
  /** Resolves once a shutdown request was served: the session closed, 'closed' sent. */
  readonly done: Promise<void>;
}

/** One page's trace port: appended counts summed until the timer sends them. */
class TraceFeed {
  private pending: { count: number; total: number } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly port: HostPort,
    private readonly coalesceMs: number,
  ) {}

  appended(data: { count: number; total: number }): void {
    this.pending = { count: (this.pending?.count ?? 0) + data.count, total: data.total };
    this.timer ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  /** A new trace began: counts of the old one belong to nothing now. */
  drop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  private flush(): void {
    this.timer = null;
    const data = this.pending;
    this.pending = null;
    if (data) this.port.post({ event: 'trace.appended', data } satisfies WorkbenchEvent);
  }
}

function isToEngine(m: unknown): m is ToEngine {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  if (t === 'request') {
    const r = m as { id?: unknown; method?: unknown };
    return Number.isSafeInteger(r.id) && typeof r.method === 'string';
  }
  return t === 'trace-port' || t === 'shutdown';
}

export function serveEngine(control: HostPort, backend: EngineBackend, opts: EngineHostOptions = {}): EngineHost {
  const coalesceMs = opts.coalesceMs ?? 50;
  const log = opts.log ?? ((line: string) => process.stderr.write(`engine: ${line}\n`));
  const feeds = new Set<TraceFeed>();
  const send = (m: FromEngine): void => control.post(m);
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  let stopping = false;

  const unsubscribe = backend.onEvent((event) => {
    if (event.event === 'trace.appended') {
      for (const f of feeds) f.appended(event.data);
      return;
    }
    if (event.event === 'trace.reset') for (const f of feeds) f.drop();
    send({ type: 'event', event });
  });

  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await backend.close();
    } catch (e) {
      log(`closing the session failed: ${(e as Error).message}`);
    }
    unsubscribe();
    for (const f of feeds) {
      f.drop();
      f.port.close();
    }
    feeds.clear();
    send({ type: 'closed' });
    finished();
  };

  control.onMessage((m, ports) => {
    if (!isToEngine(m)) {
      log(`ignored a control message that is not {type: "request" | "trace-port" | "shutdown"}: ${JSON.stringify(m)?.slice(0, 120)}`);
      return;
    }
    if (m.type === 'request') {
      if (stopping) {
        send({ type: 'response', id: m.id, reply: { ok: false, error: { code: 'failed', method: m.method, message: 'the engine is shutting down' } } });
        return;
      }
      // handle() never rejects: every failure is a reply value.
      void backend.handle(m.method, m.params).then((reply) => send({ type: 'response', id: m.id, reply }));
    } else if (m.type === 'trace-port') {
      const port = ports[0];
      if (!port) {
        log('a trace-port message came without a port; the page gets no trace growth until it asks again');
        return;
      }
      const feed = new TraceFeed(port, coalesceMs);
      feeds.add(feed);
      port.onClose(() => {
        feed.drop();
        feeds.delete(feed);
      });
    } else {
      void shutdown();
    }
  });
  send({ type: 'ready' });
  return { done };
}
