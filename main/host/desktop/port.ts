/**
 * The least a message port must offer the desktop engine plumbing. Electron's utility-process
 * parentPort and MessagePortMain (adapted in main/app/ports.ts) and Node's worker_threads
 * MessagePort (adapted here, for tests) all fit it, so the engine host loop and its client are
 * plain Node code that vitest runs without Electron (stack.md §4 "Process layout").
 */
import type { MessagePort as NodeMessagePort } from 'node:worker_threads';

export interface HostPort {
  /** Sends a structured-clonable message; `ports` are transferred with it. */
  post(message: unknown, ports?: readonly HostPort[]): void;
  /** Starts delivery; every message comes with the ports transferred alongside it. */
  onMessage(listener: (message: unknown, ports: readonly HostPort[]) => void): void;
  /** The other side went away (closed, or its process ended). */
  onClose(listener: () => void): void;
  close(): void;
}

/** Native ports behind adapters, to hand them to the runtime's own transfer list. */
const natives = new WeakMap<HostPort, unknown>();

/** The native port behind an adapter made by `adaptPort` (throws for anything else: a programmer error). */
export function nativePort<T>(port: HostPort): T {
  if (!natives.has(port)) throw new Error('nativePort: this HostPort was not made by an adapter, so it cannot be transferred');
  return natives.get(port) as T;
}

/** Registers the native port behind an adapter so it can be transferred later. */
export function adaptPort<T extends object>(native: T, port: HostPort): HostPort {
  natives.set(port, native);
  return port;
}

/**
 * A worker_threads MessagePort as a HostPort. Node delivers transferred ports inside the message
 * rather than beside it, so messages travel wrapped as `{ message, ports }`: both ends must use
 * this adapter (tests do).
 */
export function nodePort(port: NodeMessagePort): HostPort {
  return adaptPort(port, {
    post(message, ports = []) {
      const raw = ports.map((p) => nativePort<NodeMessagePort>(p));
      port.postMessage({ message, ports: raw }, raw);
    },
    onMessage(listener) {
      port.on('message', (wrapped: { message: unknown; ports: NodeMessagePort[] }) => listener(wrapped.message, wrapped.ports.map(nodePort)));
    },
    onClose(listener) {
      port.on('close', listener);
    },
    close() {
      port.close();
    },
  });
}
