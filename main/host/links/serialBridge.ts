/**
 * The `serial-bridge` link: a board's shared memory and doorbells reached through the bridge
 * agent (main/bridge-agent) over a serial line, as a Link the bus engine runs over unchanged.
 * The serialport binding is injected (docs/stack.md §9): production uses autoDetect() from
 * @serialport/bindings-cpp, tests may pass another. A port that disappears fails every pending
 * and later operation with an error naming the port; nothing waits forever.
 */
import { autoDetect } from '@serialport/bindings-cpp';
import { SerialPortStream } from '@serialport/stream';

import type { BoardProfile } from '../../../src/api/boardProfile';
import { profileWindows } from '../../../src/boards/bus';
import { BridgeClient, type BridgeClientOptions } from '../../../src/serialBridge/client';
import type { Capabilities } from '../../../src/serialBridge/protocol';
import { BridgeDoorbellIn, BridgeDoorbellOut, BridgeWindow, type BridgeRegisterWrite } from '../../../src/serialBridge/window';
import type { DoorbellIn, Link } from '../../../src/bus/link';
import { errorText } from '../../../src/util/errorText';
import { hexNum } from '../../../src/util/hex';
import type { Runtime } from '../../../src/util/runtime';
import { nodeRuntime } from '../runtime';
import { systemErrorText } from '../systemError';

/** The binding type, taken from the stream (bindings-interface has no `types` export: docs/stack.md §11 pitfall 5). */
export type SerialBinding = ConstructorParameters<typeof SerialPortStream>[0]['binding'];

export interface SerialBridgeOptions {
  /** Default: autoDetect() from @serialport/bindings-cpp. */
  binding?: SerialBinding;
  /** Default: the profile's access.baud, else 115200. Ignored by pty pairs. */
  baudRate?: number;
  runtime?: Runtime;
  /** Per-attempt reply timeout and retransmissions (BridgeClientOptions). */
  timeoutMs?: number;
  retries?: number;
  /** Doorbell-in: how often the watched word is re-read in case an EVENT was lost. Default 100 ms. */
  resyncMs?: number;
  /** Agent NOTIFY line for a `bridge-notify` doorbell out. Default 0. */
  notifyLine?: number;
}

export class SerialBridgeError extends Error {}

/** An open line to an agent, after the capability exchange. */
export interface SerialBridge {
  readonly client: BridgeClient;
  readonly caps: Capabilities;
  readonly path: string;
  close(): Promise<void>;
}

/** The C library's words for the errnos a serial port reports, as @serialport/bindings-cpp passes them on. */
const PORT_ERRNO: Readonly<Record<string, string>> = {
  'No such file or directory': 'ENOENT',
  'Permission denied': 'EACCES',
  'Device or resource busy': 'EBUSY',
  'No such device': 'ENODEV',
  'No such device or address': 'ENXIO',
  'Input/output error': 'EIO',
  'Inappropriate ioctl for device': 'ENOTTY',
};

/**
 * The serial port library's failure in words: it reads "Error: No such file or directory, cannot
 * open /dev/ttyUSB9" or "Error: Inappropriate ioctl for device setting custom baud rate of 115200".
 */
function portErrorText(err: Error): string {
  const m = /^Error: ([^,]+?)(?:, cannot open .*| (setting .*))?$/.exec(err.message);
  const code = m ? PORT_ERRNO[m[1]!] : undefined;
  if (!m || !code) return err.message.replace(/^Error: /, '');
  return `${systemErrorText(Object.assign(new Error(m[1]), { code }))}${m[2] ? ` when ${m[2]}` : ''}`;
}

/** Opens `path`, runs HELLO and returns the client. Rejects with the port's or the agent's error. */
export async function openSerialBridge(path: string, opts: SerialBridgeOptions & { baudRate: number }): Promise<SerialBridge> {
  const port = new SerialPortStream({ binding: opts.binding ?? autoDetect(), path, baudRate: opts.baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => (err ? reject(new SerialBridgeError(`cannot open serial port ${path}: ${portErrorText(err)}; check the path, permissions (dialout group) and that no other program holds it`)) : resolve())),
  );
  const clientOpts: BridgeClientOptions = {
    send: (bytes) => {
      port.write(bytes, (err) => {
        if (err) client.fail(`write failed (${portErrorText(err)}): the port is gone or broken; reconnect it or restart the agent, then open the link again`);
      });
    },
    runtime: opts.runtime ?? nodeRuntime,
    bytesPerMs: opts.baudRate / 10 / 1000,
    // A random first sequence number: a new session never meets the agent's cached reply of an old one.
    initialSeq: Math.floor(Math.random() * 0x10000),
    where: `serial port ${path}`,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
  };
  const client = new BridgeClient(clientOpts);
  port.on('data', (chunk: Uint8Array) => client.receive(chunk));
  port.on('close', (err: Error | null) => client.fail(err ? `port disappeared (${portErrorText(err)}); reconnect the cable or restart the agent, then open the link again` : 'port closed'));
  port.on('error', (err: Error) => client.fail(`serial port error: ${portErrorText(err)}`));
  const close = () =>
    new Promise<void>((resolve) => {
      client.fail('link closed');
      if (!port.isOpen) resolve();
      else port.close(() => resolve());
    });
  try {
    const caps = await client.hello();
    return { client, caps, path, close };
  } catch (e) {
    await close();
    throw new SerialBridgeError(`no bridge agent answering on ${path}: ${errorText(e)}`);
  }
}

function describeWindows(caps: Capabilities): string {
  return caps.windows.map((w) => `${hexNum(w.base, 8)}+${hexNum(w.size)}`).join(', ') || 'none';
}

/**
 * Opens the link a `bridge` profile describes on `portPath`: one BridgeWindow per region (source
 * `bridgeAddr`), bus and data windows cut from them as the profile says, doorbell out by NOTIFY
 * (`bridge-notify`) or a register STORE (`ipcc`, `mmio-write`), doorbell in by a watched word
 * (`bridge-event` with `source`) or polling (`poll`).
 */
type RegionAddresses = Map<string, { base: bigint; size: number; registersOnly: boolean }>;

function profileFail(profile: BoardProfile): (field: string, message: string) => never {
  return (field, message) => {
    throw new SerialBridgeError(`profile ${profile.id}: ${field}: ${message}`);
  };
}

/** The agent address of each region of a `bridge` profile. */
function regionAddresses(profile: BoardProfile): RegionAddresses {
  const fail = profileFail(profile);
  if (profile.access.kind !== 'bridge') fail('access.kind', `expected "bridge" for a serial bridge link, saw "${profile.access.kind}"`);
  const addr: RegionAddresses = new Map();
  profile.regions.forEach((r, i) => {
    if (!('bridgeAddr' in r.source)) fail(`regions[${i}].source`, `expected { "bridgeAddr": "0x…" } for region "${r.name}" of a bridge board, saw ${JSON.stringify(r.source)}`);
    else addr.set(r.name, { base: r.source.bridgeAddr, size: r.size, registersOnly: r.accessWidths !== undefined && !r.accessWidths.includes(8) });
  });
  return addr;
}

/** One BridgeWindow per region, each checked to be served by the agent. */
function regionWindows(profile: BoardProfile, addr: RegionAddresses, bridge: SerialBridge): Map<string, BridgeWindow> {
  const { client, caps, path } = bridge;
  for (const [name, r] of addr) {
    const end = r.base + BigInt(r.size);
    if (!caps.windows.some((w) => r.base >= w.base && end <= w.base + w.size)) {
      profileFail(profile)(
        'regions',
        `region "${name}" [${hexNum(r.base, 8)}, ${hexNum(end, 8)}) is not served by agent ${caps.agentName} ${caps.agentVersion} on ${path} ` +
          `(its windows: ${describeWindows(caps)}); start the agent with --window ${hexNum(r.base)}:${hexNum(r.size)}`,
      );
    }
  }
  return new Map([...addr].map(([name, r]) => [name, new BridgeWindow(client, r.base, r.size, r.registersOnly ? 32 : 0)]));
}

/** A bridge as a passive monitor uses it: the windows to read and the agent address of the bus window, no doorbell either way. */
export interface SerialBridgeWatch extends Pick<Link, 'busWindow' | 'dataWindow' | 'dataPeerBase'> {
  readonly description: string;
  readonly bridge: SerialBridge;
  /** Agent address of the bus window's offset 0 (where the agent's ring taps take their offsets from). */
  readonly busBase: bigint;
  readonly lost: Promise<string>;
  close(): Promise<void>;
}

/**
 * Opens the bridge for a monitor: no register is stored, no NOTIFY sent and no watch slot
 * taken, so the board's own doorbells stay as they are; the agent's ring taps follow the rings
 * (PROTOCOL.md §3.3).
 */
export async function openSerialBridgeWatch(profile: BoardProfile, portPath: string, opts: SerialBridgeOptions = {}): Promise<SerialBridgeWatch> {
  const addr = regionAddresses(profile);
  const bridge = await openSerialBridge(portPath, { ...opts, baudRate: opts.baudRate ?? profile.access.baud ?? 115200 });
  try {
    const windows = regionWindows(profile, addr, bridge);
    return {
      description: `${profile.id} over serial bridge ${portPath} (agent ${bridge.caps.agentName} ${bridge.caps.agentVersion})`,
      ...profileWindows(profile, (name) => windows.get(name)!),
      bridge,
      busBase: addr.get(profile.bus.region)!.base + BigInt(profile.bus.offset),
      lost: new Promise<string>((resolve) => bridge.client.onClosed(resolve)),
      close: () => bridge.close(),
    };
  } catch (e) {
    await bridge.close();
    throw e;
  }
}

export async function openSerialBridgeLink(profile: BoardProfile, portPath: string, opts: SerialBridgeOptions = {}): Promise<Link & { bridge: SerialBridge; lost: Promise<string> }> {
  const fail = profileFail(profile);
  const addr = regionAddresses(profile);
  const at = (region: string, offset: number) => addr.get(region)!.base + BigInt(offset);
  const register = (w: { region: string; offset: number; width: number; value: number | string }, field: string): BridgeRegisterWrite => {
    if (!addr.has(w.region)) fail(`${field}.region`, `expected one of the regions (${[...addr.keys()].join(', ')}), saw "${w.region}"`);
    if (typeof w.value !== 'number') fail(`${field}.value`, `a bridge board takes plain numbers here, saw "${w.value}"`);
    if (w.width === 64) fail(`${field}.width`, 'the bridge does single accesses of 8, 16 or 32 bits, saw 64');
    return { addr: at(w.region, w.offset), width: w.width as 8 | 16 | 32, value: w.value as number };
  };

  const bridge = await openSerialBridge(portPath, { ...opts, baudRate: opts.baudRate ?? profile.access.baud ?? 115200 });
  const { client, caps } = bridge;
  try {
    const windows = regionWindows(profile, addr, bridge);

    // NOTIFY when the agent has the line (it fences and writes its configured register), else a
    // STORE of the register the profile names.
    const out = profile.doorbellOut;
    const line = opts.notifyLine ?? 0;
    let doorbellOut: BridgeDoorbellOut;
    if (out.kind === 'bridge-notify' && line < caps.notifyLines) {
      doorbellOut = new BridgeDoorbellOut(client, { kind: 'notify', line, value: out.value ?? 0 });
    } else if (out.region !== undefined && out.offset !== undefined && out.width !== undefined && out.value !== undefined) {
      doorbellOut = new BridgeDoorbellOut(client, { kind: 'store', ...register({ region: out.region, offset: out.offset, width: out.width, value: out.value }, 'doorbellOut') });
    } else if (out.kind === 'bridge-notify') {
      return fail('doorbellOut', `agent ${caps.agentName} on ${portPath} has ${caps.notifyLines} notify line(s), none is line ${line}; start it with --notify ADDR:WIDTH:VALUE, or give the doorbell register (region, offset, width, value) in the profile`);
    } else {
      return fail('doorbellOut', `expected kind "bridge-notify", or a register write with region, offset, width and value; saw kind "${out.kind}" without them`);
    }

    const inn = profile.doorbellIn;
    let doorbellIn: DoorbellIn & { close?(): void };
    const poll = inn.kind === 'poll' || (inn.kind === 'bridge-event' && caps.watchSlots === 0 && inn.fallback?.kind === 'poll');
    if (inn.kind === 'bridge-event' && inn.source && !poll) {
      if (caps.watchSlots === 0) fail('doorbellIn', `agent ${caps.agentName} has no watch slots; use kind "poll" or give a poll fallback`);
      doorbellIn = await BridgeDoorbellIn.start(
        client,
        {
          slot: 0,
          addr: register({ region: inn.source.region, offset: inn.source.offset, width: 32, value: 0 }, 'doorbellIn.source').addr,
          width: 32,
          mask: inn.source.mask,
          ack: (inn.ack ?? []).map((a, i) => register(a, `doorbellIn.ack[${i}]`)),
          resyncMs: opts.resyncMs ?? 100,
        },
        opts.runtime ?? nodeRuntime,
      );
    } else if (poll) {
      doorbellIn = { mode: 'poll', subscribe: () => () => undefined };
    } else {
      return fail('doorbellIn', `expected kind "bridge-event" with a source { region, offset, mask }, or "poll"; saw "${inn.kind}"`);
    }

    return {
      description: `${profile.id} over serial bridge ${portPath} (agent ${caps.agentName} ${caps.agentVersion})`,
      ...profileWindows(profile, (name) => windows.get(name)!),
      doorbellOut,
      doorbellIn,
      bridge,
      lost: new Promise<string>((resolve) => bridge.client.onClosed(resolve)),
      async close() {
        doorbellIn.close?.();
        await bridge.close();
      },
    };
  } catch (e) {
    await bridge.close();
    throw e;
  }
}
