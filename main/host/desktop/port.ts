/**
 * The least a message port must offer the desktop app's RPC (src/api/rpc.ts, bound by
 * `hostChannel`). Electron's utility-process parentPort and MessagePortMain (adapted in
 * main/app/ports.ts) and Node's worker_threads MessagePort (adapted here, for tests) all fit it,
 * so the engine host and its client are plain Node code that vitest runs without Electron
 * (docs/stack.md §4 "Process layout").
 */
import type { MessagePort as NodeMessagePort } from 'node:worker_threads';

import type { RpcChannel } from '../../../src/api/rpc';

export interface HostPort {
  /** Sends a structured-clonable message. */
  post(message: unknown): void;
  /** Starts delivery. */
  onMessage(listener: (message: unknown) => void): void;
  /** The other side went away (closed, or its process ended). */
  onClose(listener: () => void): void;
  close(): void;
}

/** A HostPort as the RPC core's channel; `closedReason` is what open calls answer when it closes. */
export function hostChannel(port: HostPort, closedReason: string): RpcChannel {
  return {
    send: (message) => port.post(message),
    onMessage: (listener) => port.onMessage(listener),
    onClose: (listener) => port.onClose(() => listener(closedReason)),
  };
}

/** A worker_threads MessagePort as a HostPort. */
export function nodePort(port: NodeMessagePort): HostPort {
  return {
    post: (message) => port.postMessage(message),
    onMessage: (listener) => port.on('message', listener),
    onClose: (listener) => port.on('close', listener),
    close: () => port.close(),
  };
}
