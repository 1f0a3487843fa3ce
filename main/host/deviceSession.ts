/**
 * A device-side session: the workbench serves simulated devices (rng, i2c, console) to a real
 * driver — Linux's virtio drivers through the loopback bus, or a driver at the other end of a
 * shared-memory link (a shm file, an ivshmem peer such as a QEMU guest) — and records it like any
 * session, from the device's side (docs/linux-loopback.md §2, §4).
 */
import type { BoardProfile } from '../../src/api/boardProfile';
import type { Link } from '../../src/bus/link';
import type { QueueProblem } from '../../src/bus/queue';
import type { MemoryWindow } from '../../src/bus/window';
import { deviceDescriptor, simulatedDevice, SIMULATED_DEVICE_NAMES } from '../../src/devices/registry';
import { deviceTypeName, STATUS } from '../../src/protocol/names';
import type { DevicePhase, DeviceState } from '../../src/roles/driver/driver';
import { inspectRing, type RingState } from '../../src/virtio/inspect';
import { windowTranslator } from '../../src/virtio/layout';
import { LOOPBACK_REVISION, LoopbackDeviceSide, VIRTIO_MSG_MIN_SIZE } from '../../src/roles/device/loopback';
import { DeviceServer, type ServedDeviceState } from '../../src/roles/device/server';
import { startSimBoard, type SimBoard, type SimBoardStart } from '../../src/sim/board';
import { errorText } from '../../src/util/errorText';
import { fail, ok, type Result } from '../../src/util/result';
import type { Runtime } from '../../src/util/runtime';
import { openIvshmemLink } from './links/ivshmem';
import { openLinuxLoopback, type LoopbackKernel } from './links/linuxLoopback';
import type { LinkSpec } from './links/spec';
import { nodeRuntime } from './runtime';
import { openShmBoardSide, WAIT_FOR_DRIVER_MS } from './sim/shmBoard';
import { Trace, type TraceTarget } from './trace/trace';

export interface ServedDevice {
  devNum: number;
  kind: string;
  seed?: number | undefined;
}

export interface DeviceSessionOptions {
  capture?: TraceTarget;
  runtime?: Runtime;
  /** One line per thing the user should know (devices added, refusals), as they happen. */
  log?: (text: string) => void;
}

export interface DeviceSession {
  readonly role: 'device';
  readonly profile: BoardProfile;
  readonly description: string;
  readonly trace: Trace;
  /** The served devices as the driver set them up (status, features, queues). */
  devices(): ServedDeviceState[];
  /** Calls `listener` with a device's new state whenever the driver changed what it set up; returns the unsubscribe. */
  onDeviceChange(listener: (device: ServedDeviceState) => void): () => void;
  /** A queue's rings as they are in memory now; null when the driver has not set it up. */
  inspectQueue(devNum: number, queue: number): Promise<RingState> | null;
  /** Resolves with why, once the driver's side is gone (the message device closed, the pool unmapped). */
  readonly lost: Promise<string>;
  close(): Promise<void>;
}

/** The listeners of onDeviceChange, told the device's state as it is after the change. */
function changeListeners(devices: () => ServedDeviceState[]): { changed: (devNum: number) => void; onDeviceChange: DeviceSession['onDeviceChange'] } {
  const listeners = new Set<(device: ServedDeviceState) => void>();
  return {
    changed: (devNum) => {
      const d = devices().find((x) => x.devNum === devNum);
      if (d) for (const l of listeners) l(d);
    },
    onDeviceChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Reads a served queue's rings where the driver put them (the data window seen from the device). */
function queueInspector(devices: () => ServedDeviceState[], window: MemoryWindow, peerBase: bigint): DeviceSession['inspectQueue'] {
  return (devNum, queue) => {
    const q = devices()
      .find((d) => d.devNum === devNum)
      ?.queues.find((x) => x.index === queue);
    if (!q) return null;
    return inspectRing(window, windowTranslator(peerBase, window.size), { size: q.size, descAddr: q.descAddr, driverAddr: q.driverAddr, deviceAddr: q.deviceAddr });
  };
}

/**
 * A served device in the shape the Devices and Queues views show (the driver role's DeviceState),
 * its phase read from the status the driver wrote.
 */
export function servedAsDeviceState(d: ServedDeviceState): DeviceState {
  const names = deviceDescriptor(d.deviceId)?.driver?.queues ?? [];
  const phase: DevicePhase =
    d.status & STATUS.FAILED
      ? 'failed'
      : d.status & STATUS.DEVICE_NEEDS_RESET
        ? 'needs-reset'
        : d.status & STATUS.DRIVER_OK
          ? 'ready'
          : d.status & STATUS.FEATURES_OK
            ? 'configuring'
            : d.status & (STATUS.ACKNOWLEDGE | STATUS.DRIVER)
              ? 'negotiating'
              : 'probing';
  return {
    devNum: d.devNum,
    phase,
    deviceId: d.deviceId,
    deviceType: deviceTypeName(d.deviceId),
    vendorId: d.vendorId,
    uuid: null,
    status: d.status,
    featuresOffered: d.offeredFeatures,
    featuresNegotiated: d.negotiated,
    configSize: d.config.length,
    config: d.config,
    generation: d.generation,
    maxVirtqueues: d.numQueues,
    queues: d.queues.map((q) => ({
      index: q.index,
      name: names[q.index] ?? `queue ${q.index}`,
      size: q.size,
      maxSize: q.maxSize,
      descAddr: q.descAddr,
      driverAddr: q.driverAddr,
      deviceAddr: q.deviceAddr,
      usedEvents: q.usedEvents,
    })),
    shm: [],
    findings: [],
  };
}

/** The links a device side is served on, and what a request for another link is told. */
export function deviceSideLinkProblem(kind: LinkSpec['kind']): string | null {
  return kind === 'linux-loopback' || kind === 'shm-file' || kind === 'ivshmem' ? null : `the device side is served on linux-loopback, shm-file or ivshmem, not on ${kind}`;
}

/**
 * Opens `link` and serves `devices` on it: the one place the CLI's serve-device and the service's
 * device-side session start one. Throws only for the links' own failures (said in words).
 */
export async function openDeviceSession(profile: BoardProfile, link: LinkSpec, devices: ServedDevice[], opts: DeviceSessionOptions = {}): Promise<Result<DeviceSession>> {
  switch (link.kind) {
    case 'linux-loopback': {
      const kernel = await openLinuxLoopback({
        ...(link.control !== undefined ? { control: link.control } : {}),
        ...(link.messages !== undefined ? { messages: link.messages } : {}),
        ...(link.messagesIn !== undefined && link.messagesOut !== undefined ? { messages: { read: link.messagesIn, write: link.messagesOut } } : {}),
        ...(link.pool !== undefined ? { pool: link.pool } : {}),
        ...(link.deviceTree !== undefined ? { deviceTree: link.deviceTree } : {}),
      });
      return kernel.ok ? serveOnLoopback(profile, kernel.value, devices, opts) : kernel;
    }
    case 'shm-file': {
      const side = await openShmBoardSide(profile, link.file, link.doorbells ? { doorbells: link.doorbells } : {});
      const ring = {
        description: `shm file ${link.file} (device side)`,
        busWindow: side.shm.busWindow,
        dataWindow: side.shm.dataWindow,
        dataPeerBase: profile.dataMemory.peerBase,
        doorbellIn: side.doorbells.doorbellIn,
        doorbellOut: side.doorbells.doorbellOut,
        lost: side.shm.lost,
        close: () => Promise.resolve(side.close()),
      };
      return serveOnRingLink(profile, ring, devices, opts);
    }
    case 'ivshmem':
      return serveOnRingLink(profile, await openIvshmemLink(profile, link.socket), devices, opts);
    default:
      return fail(deviceSideLinkProblem(link.kind)!);
  }
}

/**
 * The devices to serve: `--devices rng,i2c:5,console` (kind, optional dev_num; numbered from 1
 * otherwise, in order), else the profile's sim.devices.
 */
export function servedDevices(profile: BoardProfile, spec: string | undefined): Result<ServedDevice[]> {
  if (spec === undefined) {
    const fromProfile = profile.sim?.devices ?? [];
    if (fromProfile.length === 0) return fail(`board ${profile.id} lists no devices to serve (sim.devices); name them with --devices ${SIMULATED_DEVICE_NAMES.join(',')}`);
    return ok(fromProfile.map((d) => ({ devNum: d.devNum, kind: d.kind, seed: d.seed })));
  }
  const out: ServedDevice[] = [];
  for (const [i, item] of spec.split(',').entries()) {
    const m = /^([a-z0-9-]+)(?::(\d+))?$/.exec(item.trim());
    if (!m || !SIMULATED_DEVICE_NAMES.includes(m[1]!)) return fail(`--devices: expected KIND[:DEV_NUM],… with KIND one of ${SIMULATED_DEVICE_NAMES.join(', ')}, saw "${item}"`);
    const devNum = m[2] !== undefined ? Number(m[2]) : i + 1;
    if (devNum > 0xffff) return fail(`--devices: dev_num ${devNum} does not fit 16 bits`);
    if (out.some((d) => d.devNum === devNum)) return fail(`--devices: dev_num ${devNum} is used twice`);
    out.push({ devNum, kind: m[1]! });
  }
  return ok(out);
}

/**
 * Serves `devices` on the loopback bus: the message loop runs first (IOCTL_VMSG_LB_ADD returns
 * only once the kernel brought the device up through it), then each device is added; close()
 * removes them (the kernel resets them through the loop too) before stopping the loop.
 */
export async function serveOnLoopback(profile: BoardProfile, kernel: LoopbackKernel, devices: ServedDevice[], opts: DeviceSessionOptions = {}): Promise<Result<DeviceSession>> {
  const runtime = opts.runtime ?? nodeRuntime;
  const log = opts.log ?? (() => undefined);
  // The loopback bus fixes the revision and the message size, whatever the profile says.
  const busProfile: BoardProfile = { ...profile, peer: 'linux-rfc', bus: { ...profile.bus, revision: LOOPBACK_REVISION, maxMessageSize: VIRTIO_MSG_MIN_SIZE } };
  const started = Trace.start(busProfile, kernel.description, opts.capture ?? {}, runtime);
  if (!started.ok) {
    kernel.close();
    return started;
  }
  const trace = started.value;
  const { recorder } = trace;
  const side = new LoopbackDeviceSide({
    write: (bytes) => {
      const w = kernel.write(bytes);
      if (!w.ok) recorder.marker('error', w.error);
    },
    monoNs: () => runtime.monoNs(),
    onMessage: (dir, bytes, monoNs) => void recorder.message(dir, bytes, monoNs),
    onProblem: (text, devNum) => {
      recorder.marker('error', text, devNum === undefined ? {} : { devNum });
      log(text);
    },
    onCompleted: (text, devNum) => void recorder.marker('note', text, { devNum }),
  });
  const changes = changeListeners(() => server.devicesState());
  const server: DeviceServer = new DeviceServer({
    revision: LOOPBACK_REVISION,
    memory: { window: kernel.pool, peerBase: kernel.poolBase },
    maxMessageSize: VIRTIO_MSG_MIN_SIZE,
    send: side.send,
    // What the server did not do, and why: refusals (an address outside the pool) and notes alike.
    onDrop: (reason) => {
      recorder.marker('note', `device side: ${reason}`);
      log(reason);
    },
    onChange: changes.changed,
  });
  side.attach(server);
  for (const d of devices) await server.addDevice(d.devNum, simulatedDevice(d.kind, { seed: d.seed ?? d.devNum + 1 }));
  const end = kernel.poolBase + BigInt(kernel.pool.size);
  recorder.marker('attach', `serving ${devices.map((d) => `${d.devNum}:${d.kind}`).join(' ')} on ${kernel.description}; the data window is the vmsglb pool [0x${kernel.poolBase.toString(16)}, 0x${end.toString(16)})`);

  let stopping = false;
  let loseLink: (why: string) => void = () => undefined;
  const lost = new Promise<string>((resolve) => (loseLink = resolve));
  void kernel.lost.then((why) => loseLink(why));
  void (async () => {
    for (;;) {
      const r = await kernel.read();
      if (stopping) return;
      if (!r.ok || r.value === null) {
        const why = r.ok ? 'the loopback bus closed its message device' : r.error;
        recorder.marker('error', `session lost: ${why}`);
        loseLink(why);
        return;
      }
      try {
        await side.transact(r.value, runtime.monoNs());
      } catch (e) {
        // The server's own fault (never the wire's): said once, and the loop serves on.
        recorder.marker('error', `device side failed on a message: ${errorText(e)}`);
      }
    }
  })();

  const added: number[] = [];
  for (const d of devices) {
    const r = await kernel.registrar.add(d.devNum);
    if (r.ok) {
      added.push(d.devNum);
      recorder.marker('note', `IOCTL_VMSG_LB_ADD dev_id ${d.devNum} (${d.kind}): registered`, { devNum: d.devNum });
      log(`dev_id ${d.devNum} (${d.kind}) added`);
    } else {
      recorder.marker('error', r.error, { devNum: d.devNum });
      log(r.error);
    }
  }

  let closed = false;
  return ok({
    role: 'device',
    profile: busProfile,
    description: kernel.description,
    trace,
    devices: () => server.devicesState(),
    onDeviceChange: changes.onDeviceChange,
    inspectQueue: queueInspector(() => server.devicesState(), kernel.pool, kernel.poolBase),
    lost,
    async close() {
      if (closed) return;
      closed = true;
      for (const devNum of added.splice(0)) {
        const r = await kernel.registrar.remove(devNum);
        recorder.marker(r.ok ? 'note' : 'error', r.ok ? `IOCTL_VMSG_LB_REMOVE dev_id ${devNum}: removed` : r.error, { devNum });
      }
      stopping = true;
      recorder.marker('detach', `stopped serving on ${kernel.description}`);
      kernel.close();
      trace.close();
    },
  });
}

/**
 * Serves `devices` at the device end of a shared-memory link: lays out the profile's message
 * queues as the board's firmware would, runs the device half of the handshake and serves
 * through the same device server as the simulator (src/sim/board.ts), recording every message.
 */
export async function serveOnRingLink(profile: BoardProfile, link: Link & { lost?: Promise<string> }, devices: ServedDevice[], opts: DeviceSessionOptions = {}): Promise<Result<DeviceSession>> {
  const runtime = opts.runtime ?? nodeRuntime;
  const log = opts.log ?? (() => undefined);
  // Like firmware, the device side waits for its driver as long as it runs.
  const served: BoardProfile = {
    ...profile,
    bus: { ...profile.bus, timeouts: { ...profile.bus.timeouts, peerMs: WAIT_FOR_DRIVER_MS } },
    sim: { devices: devices.map((d) => ({ devNum: d.devNum, kind: d.kind, ...(d.seed !== undefined ? { seed: d.seed } : {}) })) },
  };
  const started = Trace.start(served, link.description, opts.capture ?? {}, runtime);
  if (!started.ok) {
    await link.close();
    return started;
  }
  const trace = started.value;
  const { recorder } = trace;
  recorder.marker('note', `waiting for a driver on ${link.description}`);
  // Offered once the queues are laid out (the driver may attach any time after); attached later.
  let laidOut: () => void = () => undefined;
  const layoutWritten = new Promise<void>((resolve) => (laidOut = resolve));
  // The board serving the current driver; `shown` is what the Devices view shows: the last board's
  // devices (reset once its driver stopped) until the next driver attached.
  let sim: SimBoard | null = null;
  let shown: SimBoard | null = null;
  let closed = false;
  let loseLink: (why: string) => void = () => undefined;
  const lost = new Promise<string>((resolve) => (loseLink = resolve));
  void link.lost?.then((why) => loseLink(why));
  // Nothing is served before a driver attached.
  const state = (): ServedDeviceState[] => (shown ? (shown as SimBoard).server.devicesState() : []);
  const changes = changeListeners(state);
  const names = devices.map((d) => `${d.devNum}:${d.kind}`).join(' ');
  /**
   * Lays out the queues and serves the next driver once it attached; when that driver stops, does
   * it again with fresh device models, for as long as the session runs, as firmware waits for its
   * driver after a reboot or a module reload (docs/amp-bus.md §4.2).
   */
  const serveNextDriver = async (): Promise<SimBoardStart> => {
    const board = await startSimBoard({
      profile: served,
      busWindow: link.busWindow,
      dataWindow: link.dataWindow,
      doorbellIn: link.doorbellIn,
      doorbellOut: link.doorbellOut,
      runtime,
      onStage: (stage, detail) => {
        recorder.queueState(`${stage}: ${detail}`);
        // The device's first write to the bus area: its layout (vmamp, OA) or its own ring (spsc).
        if (stage === 'layout-written' || stage === 'own-head-init') laidOut();
      },
      onMessage: (m) => void recorder.message(m.direction, m.bytes, m.monoNs, m.match),
      onDeviceChange: changes.changed,
      onDriverStopped: (why) => void rearm(why),
      log: (text) => {
        recorder.marker(text.startsWith('dropped') ? 'error' : 'note', text);
        log(text);
      },
      // A handshake still waiting when the session closes fails on the unmapped window: nothing to tell.
    }).catch((e: unknown): SimBoardStart => fail(errorText(e)));
    if (closed) {
      if (board.ok) board.value.close();
      return board;
    }
    if (!board.ok) {
      // A driver that stopped within the handshake is one more driver gone: wait for the next.
      if (board.problem?.code === 'peer-state') {
        recorder.marker('note', `${board.error}; waiting for the next driver`);
        return serveNextDriver();
      }
      recorder.marker('error', board.error);
      loseLink(board.error);
      return board;
    }
    sim = shown = board.value;
    recorder.marker('attach', `a driver attached on ${link.description}; serving ${names}`);
    for (const d of devices) changes.changed(d.devNum);
    return board;
  };
  const rearm = async (why: QueueProblem): Promise<void> => {
    const finished = sim;
    if (closed || !finished) return;
    sim = null;
    finished.close();
    finished.server.resetAll();
    const text = `the driver stopped (${why.reason}, byte ${why.offset}); devices reset, queues laid out again: waiting for the next driver on ${link.description}`;
    recorder.marker('note', text);
    log(text);
    await serveNextDriver();
  };
  const first = await Promise.race([layoutWritten.then(() => null), serveNextDriver()]);
  if (first && !first.ok) {
    trace.close();
    await link.close();
    return fail(`${first.error} on ${link.description}`);
  }
  return ok({
    role: 'device',
    profile: served,
    description: link.description,
    trace,
    devices: state,
    onDeviceChange: changes.onDeviceChange,
    inspectQueue: queueInspector(state, link.dataWindow, link.dataPeerBase),
    lost,
    async close() {
      if (closed) return;
      closed = true;
      const board = sim as SimBoard | null;
      if (board) {
        await board.endpoint.drain();
        board.close();
      }
      recorder.marker('detach', `stopped serving on ${link.description}`);
      await link.close();
      trace.close();
    },
  });
}
