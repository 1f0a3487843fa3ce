/**
 * The extcap control pipe, our side (Wireshark Developer's Guide "Adding Capture Interfaces And
 * Log Sources Using Extcap", section "Messages"): each message is 'T', a 3-byte big-endian
 * length (the payload's plus 2), the control number, the command and the payload. Wireshark
 * shows the status bar and message box commands whatever the control number; the logger control
 * (entry.cjs LOG_CONTROL) collects the log lines. Where Wireshark gave no control pipe (tshark,
 * or a call by hand), everything that is an error goes to stderr alone.
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export const CONTROL_COMMAND = { add: 2, statusbar: 6, information: 7, warning: 8, error: 9 } as const;
/** The control number of messages that belong to no control (status bar, message boxes). */
export const NO_CONTROL = 255;
/** Wireshark's sync-pipe limit for one message (its length field is 3 bytes). */
const MAX_PAYLOAD = 4096;

export function controlMessage(control: number, command: number, text: string): Uint8Array {
  const payload = Buffer.from(text, 'utf8').subarray(0, MAX_PAYLOAD);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x54; // 'T'
  out.writeUIntBE(payload.length + 2, 1, 3);
  out[4] = control;
  out[5] = command;
  payload.copy(out, 6);
  return out;
}

export interface ExtcapControl {
  /** A line in the capture's log (the logger control). */
  log(text: string): void;
  status(text: string): void;
  /** An error: Wireshark's message box, and stderr (which Wireshark shows when the capture ends). */
  error(text: string): void;
  /** Waits (briefly) until what was written reached the pipe. */
  close(): Promise<void>;
}

/** The control-out pipe at `path` (opened without blocking: Wireshark opens its end when it is ready), or none. */
export function openControl(path: string | undefined, logControl: number): ExtcapControl {
  let pipe: WriteStream | null = null;
  if (path !== undefined) {
    pipe = createWriteStream(path);
    // A Wireshark that went away takes its messages with it; the capture still ends cleanly.
    pipe.on('error', () => pipe?.destroy());
  }
  const send = (control: number, command: number, text: string): void => {
    if (pipe && !pipe.destroyed) pipe.write(controlMessage(control, command, text));
  };
  return {
    log: (text) => send(logControl, CONTROL_COMMAND.add, text + '\n'),
    status: (text) => send(NO_CONTROL, CONTROL_COMMAND.statusbar, text),
    error(text) {
      process.stderr.write(`amp-workbench: ${text}\n`);
      send(NO_CONTROL, CONTROL_COMMAND.error, text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!pipe || pipe.destroyed) return resolve();
        const timer = setTimeout(resolve, 1000);
        pipe.end(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
