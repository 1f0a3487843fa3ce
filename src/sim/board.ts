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
import type { AttachStage } from '../bus/queue';
import type { MemoryWindow } from '../bus/window';
import { DeviceServer } from '../roles/device/server';
import { simulatedDevice } from '../devices/registry';
import type { Result } from '../util/result';
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
}

export interface SimBoard {
  endpoint: BusEndpoint;
  server: DeviceServer;
  /** Bytes per slot of the device's message queue. */
  slotSize: number;
  close(): void;
}

export async function startSimBoard(opts: SimBoardOptions): Promise<Result<SimBoard>> {
  const { profile, runtime } = opts;
  const devices = profile.sim?.devices ?? [];
  const bus = await attachProfileBus(profile, 'device', opts, {
    runtime,
    pollMs: 1,
    defaultTimeoutMs: 5000,
    onStage: opts.onStage,
    observer: {
      ...(opts.onMessage ? { onMessage: opts.onMessage } : {}),
      // What the endpoint refuses before the server sees it is dropped too: say so in the log. A
      // driver that stops (its head SHUTDOWN, PEER_DEAD or back to INIT) is the end of its session,
      // not a fault of this side: it is told as such (docs/amp-bus.md §4.2).
      onProblem: (p) =>
        opts.log?.(
          p.kind === 'handler' ? `dropped: ${p.reason}`
          : p.problem.code === 'peer-state' ? `the driver stopped: ${p.problem.reason} (byte ${p.problem.offset})`
          : `dropped: ${p.problem.reason} (byte ${p.problem.offset})`,
        ),
    },
  });
  if (!bus.ok) return { ok: false, error: `device-side bus set-up failed (${bus.error})` };
  const { endpoint, revision, queue } = bus.value;
  const send = async (bytes: Uint8Array): Promise<boolean> => {
    const r = await endpoint.send(bytes);
    if (!r.ok) opts.log?.(`send failed: ${r.error.message}`);
    return r.ok;
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
  // Requests and events are served one at a time, in arrival order (§17.2: process in order).
  // Adding the devices is the first link of that chain, so the handlers below are registered
  // before the endpoint's first drain and a request arriving meanwhile waits instead of dropping.
  let serving: Promise<void> = (async () => {
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
        offRequest();
        offEvent();
        endpoint.close();
      },
    },
  };
}
