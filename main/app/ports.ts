/**
 * Electron's ports as HostPorts (main/host/desktop/port.ts), so the engine plumbing stays
 * Electron-free. Type imports only: engine.ts runs in a utility process and must not load
 * 'electron' for these.
 */
import type { MessagePortMain, ParentPort, UtilityProcess } from 'electron';

import { adaptPort, nativePort, type HostPort } from '../host/desktop/port';

const unwrap = (ports: readonly HostPort[] = []): MessagePortMain[] => ports.map((p) => nativePort<MessagePortMain>(p));

/** A MessageChannelMain end (main process or utility process). */
export function electronPort(port: MessagePortMain): HostPort {
  return adaptPort(port, {
    post: (message, ports) => port.postMessage(message, unwrap(ports)),
    onMessage(listener) {
      port.on('message', (e) => listener(e.data, e.ports.map(electronPort)));
      port.start();
    },
    onClose(listener) {
      port.on('close', listener);
      port.start();
    },
    close: () => port.close(),
  });
}

/** The utility process's end of its channel to main (process.parentPort). */
export function parentHostPort(parent: ParentPort): HostPort {
  return adaptPort(parent, {
    post: (message, ports) => {
      if (ports?.length) throw new Error('parentPort cannot transfer ports; the engine never sends any to main');
      parent.postMessage(message);
    },
    onMessage: (listener) => parent.on('message', (e) => listener(e.data, e.ports.map(electronPort))),
    // Main ending means this process ends with it.
    onClose: () => undefined,
    close: () => undefined,
  });
}

/** Main's end of the channel to a utility process. */
export function utilityHostPort(child: UtilityProcess): HostPort {
  return adaptPort(child, {
    post: (message, ports) => child.postMessage(message, unwrap(ports)),
    onMessage: (listener) => child.on('message', (message: unknown) => listener(message, [])),
    onClose: (listener) => child.on('exit', listener),
    close: () => child.kill(),
  });
}
