/**
 * The device side of a simulated board, as a pure model over its memory windows and doorbells:
 * lay out the message queues as the board's firmware would, run the device half of the
 * handshake, and serve the profile's devices through the device role (src/roles/device/server).
 * The host runs it in a worker thread (main/host/sim/worker.ts) so both sides really run
 * concurrently on shared memory.
 */
import type { BusEndpoint, WireMessage } from '../bus/endpoint';
import type { BoardProfile } from '../api/boardProfile';
import { attachProfileBus } from '../boards/bus';
import type { DoorbellIn, DoorbellOut } from '../bus/link';
import type { AttachStage, MessageQueue, QueueProblem } from '../bus/queue';
import type { MemoryWindow } from '../bus/window';
import { DeviceServer } from '../roles/device/server';
import { simulatedDevice } from '../devices/registry';
import type { Fail, Ok } from '../util/result';
import type { Runtime } from '../util/runtime';
import { errorText } from '../util/errorText';

export interface SimBoardOptions {
  profile: BoardProfile;
  busWindow: MemoryWindow;
  dataWindow: MemoryWindow;
  doorbellOut: DoorbellOut;
  doorbellIn: DoorbellIn;
  runtime: Runtime;
  onStage?: (stage: AttachStage, detail: string) => void;
  log?: (text: string) => void;
  /**
   * Stands between the device server and the bus (fault injection: a misbehaving board's send
   * path): gets every message the server sends and the function that puts one on the bus
   * (true once placed), and may send it changed, several times, later or not at all.
   */
  sendThrough?: (bytes: Uint8Array, send: (bytes: Uint8Array) => Promise<boolean>) => Promise<void>;
  /** Every message the device side placed on or read from the bus, as the endpoint reports it. */
  onMessage?: (message: WireMessage) => void;
  /** A served device's state changed as the driver set it up (DeviceServerOptions.onChange). */
  onDeviceChange?: (devNum: number) => void;
  /**
   * The driver ended its session (its queue head SHUTDOWN or PEER_DEAD, back to INIT or wiped:
   * a 'peer-state' problem, docs/amp-bus.md §4.2): called once, after everything it sent was
   * served. The board serves nothing more; firmware would re-arm for the next driver.
   */
  onDriverStopped?: (problem: QueueProblem) => void;
}

export interface SimBoard {
  endpoint: BusEndpoint;
  server: DeviceServer;
  /** Bytes per slot of the device's message queue. */
  slotSize: number;
  close(): void;
}

/** The board, or why not; a queue problem of the handshake also as the value it was. */
export type SimBoardStart = Ok<SimBoard> | (Fail & { problem?: QueueProblem });

export async function startSimBoard(opts: SimBoardOptions): Promise<SimBoardStart> {
  const { profile, runtime } = opts;
  const devices = profile.sim?.devices ?? [];
  let driverStopped: QueueProblem | null = null;
  let attached: MessageQueue | null = null;
  // Requests and events are served one at a time, in arrival order (§17.2: process in order).
  let serving: Promise<void> = Promise.resolve();
  const bus = await attachProfileBus(profile, 'device', opts, {
    runtime,
    pollMs: 1,
    defaultTimeoutMs: 5000,
    onStage: opts.onStage,
    // A caller that takes the driver's stop re-arms for the next one (serve-device), unlike firmware.
    rearming: opts.onDriverStopped !== undefined,
    observer: {
      ...(opts.onMessage ? { onMessage: opts.onMessage } : {}),
      // What the endpoint refuses before the server sees it is dropped too: say so in the log. A
      // driver that stops (its head SHUTDOWN, PEER_DEAD or back to INIT) is the end of its session,
      // not a fault of this side: it is told as such (docs/amp-bus.md §4.2).
      onProblem: (p) => {
        if (p.kind === 'queue' && p.problem.code === 'peer-state') {
          // Said here unless the caller says it with what it does next.
          if (!opts.onDriverStopped) opts.log?.(`the driver stopped: ${p.problem.reason} (byte ${p.problem.offset})`);
          if (driverStopped) return;
          const stop = (driverStopped = p.problem);
          // At once, before the stopped driver's last requests are answered: a driver arriving
          // meanwhile waits for the next layout rather than attaching to this one.
          if (opts.onDriverStopped) void attached?.withdraw?.();
          // Told once the requests it sent before stopping are answered (in order, below).
          void serving.then(() => opts.onDriverStopped?.(stop));
        } else opts.log?.(p.kind === 'handler' ? `dropped: ${p.reason}` : `dropped: ${p.problem.reason} (byte ${p.problem.offset})`);
      },
    },
  });
  if (!bus.ok) return { ok: false, error: `device-side bus set-up failed (${bus.error})`, ...(bus.problem ? { problem: bus.problem } : {}) };
  const { endpoint, revision, queue } = bus.value;
  attached = queue;
  let closed = false;
  let saidUnsent = false;
  const send = async (bytes: Uint8Array): Promise<boolean> => {
    const r = closed ? null : await endpoint.send(bytes);
    if (r?.ok) return true;
    if (closed) {
      // Closed once its driver stopped: what the devices still answer has nobody to read it.
      if (!saidUnsent) opts.log?.('answers the devices gave after the driver stopped were not sent: it no longer reads the queue');
      saidUnsent = true;
      return false;
    }
    opts.log?.(`send failed: ${r!.error.message}`);
    return false;
  };
  const server = new DeviceServer({
    revision,
    memory: { window: opts.dataWindow, peerBase: profile.dataMemory.peerBase },
    // A message must fit the bus's advertised maximum and a queue slot.
    maxMessageSize: Math.min(profile.bus.maxMessageSize, queue.slotSize),
    send: async (bytes) => {
      if (opts.sendThrough) await opts.sendThrough(bytes, send);
      else await send(bytes);
    },
    onDrop: (reason) => opts.log?.(`dropped: ${reason}`),
    ...(opts.onDeviceChange ? { onChange: opts.onDeviceChange } : {}),
  });
  // Adding the devices is the first link of that chain, so the handlers below are registered
  // before the endpoint's first drain and a request arriving meanwhile waits instead of dropping.
  serving = (async () => {
    for (const d of devices) await server.addDevice(d.devNum, simulatedDevice(d.kind, { seed: d.seed ?? d.devNum + 1 }));
  })();
  const serve = (bytes: Uint8Array) => {
    serving = serving.then(() => server.handle(bytes)).catch((e: unknown) => opts.log?.(`server error: ${errorText(e)}`));
    return serving;
  };
  const offRequest = endpoint.onRequest('any', async (req) => {
    await serve(req.bytes);
    return null;
  });
  const offEvent = endpoint.onEvent('any', (ev) => void serve(ev.bytes));
  return {
    ok: true,
    value: {
      endpoint,
      server,
      slotSize: queue.slotSize,
      close() {
        closed = true;
        offRequest();
        offEvent();
        endpoint.close();
      },
    },
  };
}
