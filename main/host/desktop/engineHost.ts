/**
 * The engine side of the desktop app: WorkbenchService behind a message port. In the app it runs
 * in an Electron utility process (main/app/engine.ts hands it process.parentPort), so a wedged
 * board or addon takes down this child only, never the window (docs/stack.md §4 "Process layout");
 * in tests it runs over a worker_threads MessageChannel.
 *
 * The port carries the RPC core's messages (src/api/rpc.ts): main calls the Workbench methods
 * and one of the engine's own, ENGINE_SHUTDOWN; events go to main with trace.appended coalesced
 * to at most one per `coalesceMs`, counts summed — never one message per record (docs/stack.md §4
 * "High-rate stream", §6). Main relays them to the page.
 */
import { coalesceTraceGrowth, readOnlyGate, serveRpc, type RpcClient, type RpcHandler, type WorkbenchBackend } from '../../../src/api/rpc';
import { errorText } from '../../../src/util/errorText';
import { nodeRuntime } from '../runtime';
import { startWebServer } from '../web/server';
import { hostChannel, type HostPort } from './port';

/** Ends the session and stops the engine; answered once the session is closed. */
export const ENGINE_SHUTDOWN = 'engine.shutdown';

export interface EngineBackend extends WorkbenchBackend {
  close(): Promise<void>;
}

export interface EngineHostOptions {
  /** Longest a trace.appended waits for more to join it (default 50 ms, as web mode). */
  coalesceMs?: number;
  /** Messages the host could not use, one line each (default: stderr). */
  log?: (line: string) => void;
  /**
   * Also serve the session read-only on a loopback WebSocket announced in this folder, so the
   * Wireshark extcap streams it instead of opening the board a second time (main/host/extcap/discovery.ts).
   */
  announceIn?: string;
}

export interface EngineHost {
  /** Resolves once a shutdown was answered: the session closed, main told so. */
  readonly done: Promise<void>;
}

export function serveEngine(control: HostPort, backend: EngineBackend, opts: EngineHostOptions = {}): EngineHost {
  const log = opts.log ?? ((line: string) => process.stderr.write(`engine: ${line}\n`));
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  let stopping = false;

  // Read-only for every client of it: the page's own port is the only one that drives the session.
  const viewers = opts.announceIn === undefined ? null : startWebServer({ backend: { handle: readOnlyGate(backend.handle.bind(backend), () => false), onEvent: (l) => backend.onEvent(l) }, staticDir: null, announceIn: opts.announceIn, log });
  viewers?.catch((e: unknown) => log(`cannot serve the session to Wireshark: ${errorText(e)}`));

  const shutdown = async (): Promise<void> => {
    stopping = true;
    await viewers?.then((v) => v.close(), () => undefined);
    try {
      await backend.close();
    } catch (e) {
      log(`closing the session failed: ${errorText(e)}`);
    }
    unsubscribe();
    events.stop();
    // After the reply has gone out: the process exits when `done` resolves.
    setImmediate(finished);
  };

  const handler: RpcHandler = async (method, params, signal) => {
    if (method === ENGINE_SHUTDOWN) {
      if (!stopping) await shutdown();
      return { ok: true, result: {} };
    }
    if (stopping) return { ok: false, error: { code: 'failed', method: String(method), message: 'the engine is shutting down' } };
    return backend.handle(method, params, signal);
  };

  const server = serveRpc(hostChannel(control, 'main went away'), handler, { log });
  const events = coalesceTraceGrowth(server.emit, opts.coalesceMs ?? 50, nodeRuntime);
  const unsubscribe = backend.onEvent(events.emit);
  return { done };
}

/** Main's end: asks the engine to end its session and stop; resolves when it said so. */
export async function shutdownEngine(client: RpcClient): Promise<void> {
  await client.request(ENGINE_SHUTDOWN, {});
}
