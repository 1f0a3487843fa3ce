/**
 * Electron's ports as HostPorts (main/host/desktop/port.ts), so the RPC bindings stay
 * Electron-free. Type imports only: engine.ts runs in a utility process and must not load
 * 'electron' for these.
 */
import type { MessagePortMain, ParentPort, UtilityProcess } from 'electron';

import type { HostPort } from '../host/desktop/port';

/** A MessageChannelMain end (main's end of the page's port). */
export function electronPort(port: MessagePortMain): HostPort {
  return {
    post: (message) => port.postMessage(message),
    onMessage(listener) {
      port.on('message', (e) => listener(e.data));
      port.start();
    },
    onClose: (listener) => port.on('close', listener),
    close: () => port.close(),
  };
}

/** The utility process's end of its channel to main (process.parentPort). */
export function parentHostPort(parent: ParentPort): HostPort {
  return {
    post: (message) => parent.postMessage(message),
    onMessage: (listener) => parent.on('message', (e) => listener(e.data)),
    // Main ending means this process ends with it.
    onClose: () => undefined,
    close: () => undefined,
  };
}

/** Main's end of the channel to a utility process. */
export function utilityHostPort(child: UtilityProcess): HostPort {
  return {
    post: (message) => child.postMessage(message),
    onMessage: (listener) => child.on('message', (message: unknown) => listener(message)),
    onClose: (listener) => child.on('exit', listener),
    close: () => child.kill(),
  };
}
