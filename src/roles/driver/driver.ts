/**
 * The driver role: enumerate the bus, bring each device to DRIVER_OK in the order of
 * docs/protocol.md §14.2, keep a state model of every device that any UI can subscribe
 * to, and react to EVENT_USED, EVENT_CONFIG (DEVICE_NEEDS_RESET) and EVENT_DEVICE (hot-plug).
 */
import type { MemoryWindow } from '../../bus/window';
import { queuePlan } from './catalog';
import type { QueueContext } from '../../devices/workload';
import { featureNames } from '../../devices/registry';
import { deviceTypeName, FEATURE, featureBit, STATUS, statusNames } from '../../protocol/names';
import type { Revision } from '../../protocol/types';
import { errorText } from '../../util/errorText';
import type { Result } from '../../util/result';
import type { Runtime } from '../../util/runtime';
import { DataAllocator, OwnedAllocator } from '../../virtio/alloc';
import { DriverVirtqueue } from '../../virtio/driverRing';
import { inspectRing, readDescriptorBuffer, type DescriptorBuffer, type InspectParams, type RingState } from '../../virtio/inspect';
import { windowTranslator, type Translate } from '../../virtio/layout';
import { decodeHeader } from '../../protocol/index';
import { createDialect, type Dialect, type InboundEvent, type ShmRegion } from './dialect';
import type { DriverPort } from './port';

export type DevicePhase =
  | 'probing'
  | 'resetting'
  | 'negotiating'
  | 'configuring'
  | 'queues'
  | 'ready'
  | 'no-driver'
  | 'needs-reset'
  | 'failed'
  | 'removed';

export interface QueueModel {
  index: number;
  name: string;
  size: number;
  maxSize: number;
  descAddr: bigint;
  driverAddr: bigint;
  deviceAddr: bigint;
  /** EVENT_USED notifications received for this queue. */
  usedEvents: number;
}

export interface DeviceState {
  devNum: number;
  phase: DevicePhase;
  deviceId: number;
  deviceType: string;
  vendorId: number;
  /** R4 device_uuid as 32 hex digits; null when the revision has none or the device reports nil. */
  uuid: string | null;
  status: number;
  featuresOffered: bigint;
  featuresNegotiated: bigint;
  configSize: number | null;
  config: Uint8Array;
  generation: number | null;
  maxVirtqueues: number | null;
  queues: QueueModel[];
  /** Shared-memory regions the device reports (GET_SHM); empty when absent, unanswered or not in the revision. */
  shm: ShmRegion[];
  /** What went wrong, in words that say expected vs seen. */
  error?: string;
  /** Deviations from the spec the device showed that we tolerated (reported, not fatal). */
  findings: string[];
}

/** A device nothing is known of yet but its number. */
export function newDeviceState(devNum: number): DeviceState {
  return {
    devNum,
    phase: 'probing',
    deviceId: 0,
    deviceType: 'unknown',
    vendorId: 0,
    uuid: null,
    status: 0,
    featuresOffered: 0n,
    featuresNegotiated: 0n,
    configSize: null,
    config: new Uint8Array(0),
    generation: null,
    maxVirtqueues: null,
    queues: [],
    shm: [],
    findings: [],
  };
}

export interface DriverOptions {
  port: DriverPort;
  revision: Revision;
  maxMessageSize: number;
  responseTimeoutMs: number;
  data: { window: MemoryWindow; peerBase: bigint };
  runtime: Runtime;
  /** The profile's device list, used where the bus has no GET_DEVICES (R0). */
  expectedDevices?: readonly { devNum: number; virtioId: number }[];
  /** Largest queue the driver asks for (capped by the device's max_size). */
  maxQueueSize?: number;
  /** Told whenever the driver publishes avail.idx or sees used.idx move on one of its queues. */
  onQueueIndex?: (devNum: number, queue: number, state: QueueIndexState) => void;
  /** Told the bytes of every chain published and used on the driver's queues (the trace's buffer records); absent: not read. */
  onBuffer?: { max: number; seen: (devNum: number, queue: number, toDevice: boolean, head: number, length: number, bytes: Uint8Array) => void };
  /** Told as probeAll brings each device up (or gives up on it), for a progress display. */
  onProgress?: (progress: BringUpProgress) => void;
}

/**
 * One step of probeAll: a device's bring-up ended (`unanswered`: its GET_DEVICE_INFO got no
 * answer at all), or the rest of the advertised devices were given up on.
 */
export type BringUpProgress =
  | { kind: 'device'; state: DeviceState; unanswered: boolean; done: number; total: number }
  | { kind: 'gave-up'; skipped: number[]; reason: string };

export interface QueueIndexState {
  availIdx: number;
  usedIdx: number;
  lastSeenUsed: number;
  inFlight: number;
}

/** Device-independent bits this driver understands (§14.2 step 6: only bits understood). */
const TRANSPORT_FEATURES = featureBit(FEATURE.VERSION_1) | featureBit(FEATURE.ACCESS_PLATFORM);

/** Reset completion polling (§14.3; Linux PoC-v2: every 10 ms, up to 10 s). */
const RESET_POLL_MS = 10;
const RESET_POLL_TRIES = 1000;

/**
 * Feature bits the driver reads and writes: every bit it can name lies below 128 (virtio-net's
 * reach 70). Higher blocks are never accepted, so they are not read (R4 §14.2 step 1: the count
 * must be within what the driver supports; the device keeps 0 for blocks not written).
 */
const DRIVER_FEATURE_BITS = 128;
/** A num_feature_bits/blocks beyond this is corrupt, not a device: 1024 blocks would not fit any message. */
const PLAUSIBLE_FEATURE_BITS = 32 * 1024;

/**
 * probeAll gives up on the rest of the advertised devices after this many in a row left
 * GET_DEVICE_INFO unanswered. Each costs one response timeout (1 s by default), so a board that
 * advertises 1000 devices of which 2 answer costs about 4 s instead of 17 minutes. A present
 * device answers GET_DEVICE_INFO at once on every peer we know (QEMU, the OpenAMP firmware, our
 * simulator); one silent device among working ones does not reach the limit, four in a row say
 * the advertised list is not real.
 */
export const MAX_SILENT_DEVICES = 4;

/** How long waitUsed polls the queue before it sleeps until the doorbell or the timeout. */
const USED_SPIN_NS = 200_000n;

interface LiveQueue {
  model: QueueModel;
  vq: DriverVirtqueue;
  /** Every buffer workloads take for this queue, returned at once when the queue goes. */
  buffers: OwnedAllocator;
  waiters: (() => void)[];
  pendingUsed: boolean;
}

interface LiveDevice {
  state: DeviceState;
  queues: LiveQueue[];
  /** Serialises bring-up, reset and hot-plug handling per device. */
  busy: Promise<unknown>;
  /** Why the next bring-up resets the device when the device asked for it (DEVICE_NEEDS_RESET), for the queues' teardown. */
  resetAsked?: string | undefined;
}

export class Driver {
  readonly dialect: Dialect;
  private readonly devices = new Map<number, LiveDevice>();
  private readonly listeners = new Set<(state: DeviceState) => void>();
  private readonly alloc: DataAllocator;
  private readonly unsubscribe: () => void;
  private readonly busFindingList: string[] = [];
  private readonly busProblemList: string[] = [];
  /** The dev_num whose GET_SHM went unanswered: the bus's peer does not answer it, so it is not asked again. */
  private shmUnansweredBy: number | null = null;
  /** Why the link to the board is gone (a request failed with linkLost, or abort()); null while it works. */
  private lostBecause: string | null = null;
  /** Requests per dev_num that got no answer at all, to tell a silent device from one that answered wrong. */
  private readonly unansweredBy = new Map<number, number>();
  /** Devices whose last GET_DEVICE_INFO got no answer at all. */
  private readonly silentDevices = new Set<number>();

  constructor(private readonly opts: DriverOptions) {
    const port: DriverPort = {
      ...opts.port,
      request: async (bytes, timeoutMs) => {
        const r = await opts.port.request(bytes, timeoutMs);
        if (!r.ok && r.linkLost) this.lostBecause ??= r.error;
        if (!r.ok && r.timedOut) {
          const h = decodeHeader(bytes, opts.revision);
          if (h && !h.bus) this.unansweredBy.set(h.devNum, (this.unansweredBy.get(h.devNum) ?? 0) + 1);
        }
        return r;
      },
    };
    this.dialect = createDialect(port, opts.revision, {
      timeoutMs: opts.responseTimeoutMs,
      maxMessageSize: opts.maxMessageSize,
      onFinding: (text) => {
        if (!this.busFindingList.includes(text)) this.busFindingList.push(text);
      },
    });
    this.alloc = new DataAllocator(0, opts.data.window.size);
    this.unsubscribe = opts.port.onEvent((bytes) => this.onEvent(bytes));
  }

  /** Deviations from the spec the bus or its peer showed that were tolerated (not tied to one device). */
  busFindings(): readonly string[] {
    return this.busFindingList;
  }

  /** What went wrong on the bus as a whole (advertised devices given up on), not tied to one device. */
  busProblems(): readonly string[] {
    return this.busProblemList;
  }

  /** Why the link to the board is gone, once it is; null while it works. */
  get linkLost(): string | null {
    return this.lostBecause;
  }

  /** Every device's state now. */
  states(): DeviceState[] {
    return [...this.devices.values()].map((d) => d.state).sort((a, b) => a.devNum - b.devNum);
  }

  state(devNum: number): DeviceState | undefined {
    return this.devices.get(devNum)?.state;
  }

  /** Called with a device's state every time it changes. */
  subscribe(listener: (state: DeviceState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** GET_DEVICES (or the profile's list on buses without it), then bring every device up. */
  async probeAll(): Promise<Result<DeviceState[]>> {
    const list = await this.enumerate();
    if (!list.ok) return list;
    for (const e of this.opts.expectedDevices ?? []) {
      if (!list.value.includes(e.devNum)) {
        this.busFindingList.push(`the board profile expects virtio device ${e.virtioId} at dev_num ${e.devNum}, but the bus does not report that dev_num`);
      }
    }
    const total = list.value.length;
    let silent = 0;
    for (const [i, devNum] of list.value.entries()) {
      if (this.lostBecause !== null) break;
      const state = await this.bringUp(devNum);
      if (this.lostBecause !== null) break;
      const unanswered = this.silentDevices.has(devNum);
      this.opts.onProgress?.({ kind: 'device', state, unanswered, done: i + 1, total });
      silent = unanswered ? silent + 1 : 0;
      if (silent === MAX_SILENT_DEVICES && i + 1 < total) {
        const skipped = list.value.slice(i + 1);
        const reason =
          `gave up on the last ${skipped.length} of ${total} advertised devices: ${MAX_SILENT_DEVICES} in a row ` +
          `(dev_num ${list.value.slice(i + 1 - MAX_SILENT_DEVICES, i + 1).join(', ')}) left GET_DEVICE_INFO unanswered within ${this.opts.responseTimeoutMs} ms`;
        this.busProblemList.push(reason);
        this.opts.onProgress?.({ kind: 'gave-up', skipped, reason });
        break;
      }
    }
    if (this.lostBecause !== null) {
      const up = this.states().filter((d) => d.phase === 'ready').length;
      return { ok: false, error: `bring-up stopped with ${up} of ${total} devices at DRIVER_OK: ${this.lostBecause}` };
    }
    return { ok: true, value: this.states() };
  }

  /**
   * The link is gone (or the user stopped): no request is made from now on, and workloads
   * waiting on a used ring stop at once (the queues are retired; their memory is left alone,
   * the board may still hold it).
   */
  abort(reason: string): void {
    this.lostBecause ??= reason;
    for (const d of this.devices.values()) {
      for (const q of d.queues) {
        q.vq.retire(reason);
        for (const w of q.waiters.splice(0)) w();
      }
    }
  }

  async enumerate(): Promise<Result<number[]>> {
    if (!this.dialect.hasBusMessages) {
      const expected = this.opts.expectedDevices ?? [];
      if (expected.length === 0) return { ok: false, error: `revision ${this.opts.revision} has no GET_DEVICES and the board profile lists no devices` };
      return { ok: true, value: expected.map((d) => d.devNum) };
    }
    const r = await this.dialect.getDevices();
    if (!r.ok) return { ok: false, error: `GET_DEVICES failed: ${r.error}` };
    return { ok: true, value: r.value.map((d) => d.devNum) };
  }

  /** Brings one device from probe to DRIVER_OK (§14.2 steps 1–10). */
  bringUp(devNum: number): Promise<DeviceState> {
    const dev = this.live(devNum);
    // The board's data memory can go from under the driver (a mapping that shrank, a device
    // removed): a rejected access fails this device with the link's words, it does not throw.
    const run = dev.busy.then(() => this.initialise(dev)).catch((e: unknown) => this.fail(dev, errorText(e)));
    dev.busy = run;
    return run;
  }

  /** Driver-initiated reset (§14.3) followed by a fresh initialisation. */
  reset(devNum: number): Promise<DeviceState> {
    return this.bringUp(devNum);
  }

  /** The context a device workload runs in, for a queue of a device at DRIVER_OK. */
  queueContext(devNum: number, queue: number): Result<QueueContext> {
    const dev = this.devices.get(devNum);
    if (!dev || dev.state.phase !== 'ready') {
      return { ok: false, error: `device ${devNum} is not at DRIVER_OK (phase ${dev?.state.phase ?? 'absent'})` };
    }
    const q = dev.queues[queue];
    if (!q) return { ok: false, error: `device ${devNum} has no queue ${queue} (it has ${dev.queues.length})` };
    const ctx: QueueContext = {
      queue: q.vq,
      alloc: q.buffers,
      window: this.opts.data.window,
      kick: async () => {
        const r = await this.dialect.kick(devNum, queue, 0);
        if (!r.ok) throw new Error(`EVENT_AVAIL to device ${devNum} queue ${queue} failed: ${r.error}`);
      },
      waitUsed: (timeoutMs) => this.waitUsed(q, timeoutMs),
    };
    return { ok: true, value: ctx };
  }

  /**
   * The state of one of a device's virtqueues as it is in memory now (avail.idx, used.idx,
   * in flight, descriptor chains), read without changing anything; null for no such queue.
   */
  inspectQueue(devNum: number, queue: number): Promise<RingState> | null {
    const q = this.devices.get(devNum)?.queues[queue];
    if (!q) return null;
    const { window, translate, params } = this.ringView(q);
    return inspectRing(window, translate, params, q.vq.lastSeenUsed);
  }

  /** The buffer descriptor `index` of a device's virtqueue points at, as it is now (at most `max` bytes); null for no such queue. */
  readDescriptor(devNum: number, queue: number, index: number, max: number): Promise<Result<DescriptorBuffer, string>> | null {
    const q = this.devices.get(devNum)?.queues[queue];
    if (!q) return null;
    const { window, translate, params } = this.ringView(q);
    return readDescriptorBuffer(window, translate, params, index, max);
  }

  /** A queue's rings as the read-only inspector reads them. */
  private ringView(q: LiveQueue): { window: MemoryWindow; translate: Translate; params: InspectParams } {
    const { window, peerBase } = this.opts.data;
    const m = q.model;
    return { window, translate: windowTranslator(peerBase, window.size), params: { size: m.size, descAddr: m.descAddr, driverAddr: m.driverAddr, deviceAddr: m.deviceAddr } };
  }

  /** How much of the board's data memory the rings and buffers take now. */
  dataMemory(): { freeBytes: number; allocatedBlocks: number } {
    return { freeBytes: this.alloc.freeBytes, allocatedBlocks: this.alloc.allocatedBlocks };
  }

  close(): void {
    this.unsubscribe();
    for (const d of this.devices.values()) for (const q of d.queues) for (const w of q.waiters.splice(0)) w();
  }

  /**
   * Resolves true on EVENT_USED for the queue, false after `timeoutMs` (a device in polling-only
   * mode never sends one; the workload then reads the ring anyway). An EVENT_USED that arrived
   * while nobody waited is kept, so a wake-up between "read the ring" and "wait" is never lost.
   */
  private async waitUsed(q: LiveQueue, timeoutMs: number): Promise<boolean> {
    // Busy-poll briefly first: a doorbell wake-up costs far more than a device's answer.
    const spinUntil = this.opts.runtime.monoNs() + USED_SPIN_NS;
    while (!q.pendingUsed && this.opts.runtime.monoNs() < spinUntil) await this.opts.port.poll();
    if (q.pendingUsed) {
      q.pendingUsed = false;
      return true;
    }
    return new Promise<boolean>((resolve) => {
      let cancel = (): void => undefined;
      const wake = () => {
        cancel();
        resolve(true);
      };
      q.waiters.push(wake);
      cancel = this.opts.runtime.setTimer(timeoutMs, () => {
        const i = q.waiters.indexOf(wake);
        if (i >= 0) q.waiters.splice(i, 1);
        resolve(false);
      });
    });
  }

  private live(devNum: number): LiveDevice {
    let dev = this.devices.get(devNum);
    if (!dev) {
      dev = {
        state: newDeviceState(devNum),
        queues: [],
        busy: Promise.resolve(),
      };
      this.devices.set(devNum, dev);
    }
    return dev;
  }

  /** Replaces the device's state (queues always follow the live queues) and tells subscribers. */
  private update(dev: LiveDevice, patch: Partial<Omit<DeviceState, 'queues'>>): void {
    dev.state = { ...dev.state, ...patch, queues: dev.queues.map((q) => q.model) };
    for (const l of this.listeners) l(dev.state);
  }

  private finding(dev: LiveDevice, text: string): void {
    if (!dev.state.findings.includes(text)) this.update(dev, { findings: [...dev.state.findings, text] });
  }

  private fail(dev: LiveDevice, error: string): DeviceState {
    this.update(dev, { phase: 'failed', error });
    return dev.state;
  }

  /**
   * Tears the device's queues down once the device can no longer touch them (reset confirmed,
   * or removed): contexts handed out stop writing, and the rings and every buffer workloads took
   * (a console's posted receive buffers, a timed-out request's) go back to the allocator.
   */
  private releaseQueues(dev: LiveDevice, reason: string): void {
    for (const q of dev.queues) {
      q.vq.retire(reason);
      q.buffers.releaseAll(reason);
      this.alloc.free(q.vq.offsets.desc);
      for (const w of q.waiters.splice(0)) w();
    }
    dev.queues = [];
  }

  private async initialise(dev: LiveDevice): Promise<DeviceState> {
    const d = this.dialect;
    const n = dev.state.devNum;
    const { error: _previous, ...rest } = dev.state;
    dev.state = rest;
    this.update(dev, { phase: 'probing' });

    // 1. PROBE
    const unansweredBefore = this.unansweredBy.get(n) ?? 0;
    const info = await d.getDeviceInfo(n);
    this.silentDevices.delete(n);
    if (!info.ok) {
      if ((this.unansweredBy.get(n) ?? 0) > unansweredBefore) this.silentDevices.add(n);
      return this.fail(dev, `GET_DEVICE_INFO: ${info.error}`);
    }
    if (info.value.deviceId === 0) return this.fail(dev, `GET_DEVICE_INFO reports device_id 0: no device function at dev_num ${n}`);
    if (info.value.featureBits % 32 !== 0) return this.fail(dev, `num_feature_bits ${info.value.featureBits} is not a multiple of 32`);
    if (info.value.featureBits > PLAUSIBLE_FEATURE_BITS) {
      return this.fail(dev, `GET_DEVICE_INFO reports ${info.value.featureBits / 32} feature blocks; expected at most ${PLAUSIBLE_FEATURE_BITS / 32}`);
    }
    const expected = this.opts.expectedDevices?.find((e) => e.devNum === n);
    if (expected && expected.virtioId !== info.value.deviceId) {
      this.finding(dev, `profile expects virtio device ${expected.virtioId} at dev_num ${n}, the board reports ${info.value.deviceId}`);
    }
    this.update(dev, {
      deviceId: info.value.deviceId,
      deviceType: deviceTypeName(info.value.deviceId),
      vendorId: info.value.vendorId,
      uuid: info.value.uuid ?? null,
      configSize: info.value.configSize,
      maxVirtqueues: info.value.maxVirtqueues,
      phase: 'resetting',
    });

    // 2. RESET, polling until the device reports 0; only then are the old queues the device's no more.
    const reset = await this.resetDevice(dev);
    if (!reset.ok) return this.fail(dev, reset.error);
    this.releaseQueues(dev, `device ${n} was reset${dev.resetAsked ? ` after ${dev.resetAsked}` : ''}`);
    dev.resetAsked = undefined;

    // 3–4. ACKNOWLEDGE, DRIVER
    let status = STATUS.ACKNOWLEDGE;
    const ack = await this.writeStatus(dev, status);
    if (!ack.ok) return this.fail(dev, ack.error);
    const plan = queuePlan(info.value.deviceId);
    if (!plan) {
      this.update(dev, { phase: 'no-driver', error: `no driver for virtio device type ${info.value.deviceId} (${deviceTypeName(info.value.deviceId)})` });
      return dev.state;
    }
    status |= STATUS.DRIVER;
    const drv = await this.writeStatus(dev, status);
    if (!drv.ok) return this.fail(dev, drv.error);

    // 5–7. Features: read, write the subset we understand, FEATURES_OK and check it stuck.
    this.update(dev, { phase: 'negotiating' });
    const featureBits = Math.min(info.value.featureBits, DRIVER_FEATURE_BITS);
    const offered = await d.getFeatures(n, featureBits);
    if (!offered.ok) return this.fail(dev, `GET_DEVICE_FEATURES: ${offered.error}`);
    const wanted = offered.value & (TRANSPORT_FEATURES | plan.features);
    this.update(dev, { featuresOffered: offered.value });
    if (this.opts.revision !== 'r0' && (offered.value & featureBit(FEATURE.VERSION_1)) === 0n) {
      return this.failWith(dev, status, `device does not offer VIRTIO_F_VERSION_1 (bit 32); offered ${featureNames(offered.value, info.value.deviceId).join(', ') || 'none'}`);
    }
    for (const bit of plan.requiredFeatures) {
      if ((offered.value & featureBit(bit)) === 0n) {
        return this.failWith(dev, status, `device does not offer ${featureNames(featureBit(bit), info.value.deviceId)[0] ?? `bit ${bit}`}, which its driver requires`);
      }
    }
    const set = await d.setFeatures(n, featureBits, wanted);
    if (!set.ok) return this.fail(dev, `SET_DRIVER_FEATURES: ${set.error}`);
    status |= STATUS.FEATURES_OK;
    const fok = await this.writeStatus(dev, status);
    if (!fok.ok) return this.fail(dev, fok.error);
    if ((fok.value & STATUS.FEATURES_OK) === 0) {
      return this.failWith(dev, status, `device refused the features (FEATURES_OK cleared, status ${statusNames(fok.value).join('|') || '0'})`);
    }
    this.update(dev, { featuresNegotiated: wanted });

    // 8. Config space, in chunks, re-read until two reads agree on the generation.
    this.update(dev, { phase: 'configuring' });
    const cfg = await this.readConfig(dev);
    if (!cfg.ok) return this.failWith(dev, status, cfg.error);
    // Shared-memory regions, where the revision has GET_SHM.
    await this.readShm(dev);
    if (this.lostBecause !== null) return this.fail(dev, `GET_SHM: ${this.lostBecause}`);

    // 9. Virtqueues in the board's data memory, addresses in the device's view.
    this.update(dev, { phase: 'queues' });
    const queues = await this.setupQueues(dev, plan.queues);
    if (!queues.ok) return this.failWith(dev, status, queues.error);

    // 10. DRIVER_OK
    status |= STATUS.DRIVER_OK;
    const ok = await this.writeStatus(dev, status);
    if (!ok.ok) return this.fail(dev, ok.error);
    if ((ok.value & STATUS.DRIVER_OK) === 0 || (ok.value & STATUS.DEVICE_NEEDS_RESET) !== 0) {
      return this.failWith(dev, status, `DRIVER_OK not accepted: device reports ${statusNames(ok.value).join('|') || '0'}`);
    }
    this.update(dev, { phase: 'ready' });
    return dev.state;
  }

  /** Marks FAILED on the device (core spec: driver SHOULD set FAILED) and records the error. */
  private async failWith(dev: LiveDevice, status: number, error: string): Promise<DeviceState> {
    await this.writeStatus(dev, status | STATUS.FAILED);
    return this.fail(dev, error);
  }

  private async writeStatus(dev: LiveDevice, status: number): Promise<Result<number>> {
    const r = await this.dialect.setStatus(dev.state.devNum, status);
    if (!r.ok) return { ok: false, error: `SET_DEVICE_STATUS ${statusNames(status).join('|') || '0'}: ${r.error}` };
    this.update(dev, { status: r.value });
    if (status !== 0 && (r.value & STATUS.DEVICE_NEEDS_RESET) !== 0) {
      this.update(dev, { phase: 'needs-reset' });
      return { ok: false, error: `device set DEVICE_NEEDS_RESET (status ${statusNames(r.value).join('|')})` };
    }
    return r;
  }

  private async resetDevice(dev: LiveDevice): Promise<Result<void>> {
    const n = dev.state.devNum;
    const r = await this.dialect.setStatus(n, 0);
    if (!r.ok) return { ok: false, error: `reset (SET_DEVICE_STATUS 0): ${r.error}` };
    let status = r.value;
    for (let i = 0; status !== 0 && i < RESET_POLL_TRIES; i++) {
      await this.opts.runtime.sleep(RESET_POLL_MS);
      const s = await this.dialect.getStatus(n);
      if (!s.ok) return { ok: false, error: `reset completion poll (GET_DEVICE_STATUS): ${s.error}` };
      status = s.value;
    }
    this.update(dev, { status, featuresNegotiated: 0n });
    if (status !== 0) return { ok: false, error: `device still reports status ${statusNames(status).join('|')} ${RESET_POLL_MS * RESET_POLL_TRIES} ms after reset` };
    return { ok: true, value: undefined };
  }

  private async readConfig(dev: LiveDevice): Promise<Result<void>> {
    const size = dev.state.configSize ?? 0;
    const chunk = this.dialect.configChunk;
    if (size === 0 || chunk === 0) return { ok: true, value: undefined };
    for (let attempt = 0; attempt < 5; attempt++) {
      const data = new Uint8Array(size);
      const generations = new Set<number>();
      for (let off = 0; off < size; off += chunk) {
        const r = await this.dialect.getConfig(dev.state.devNum, off, Math.min(chunk, size - off));
        if (!r.ok) return { ok: false, error: `GET_CONFIG: ${r.error}` };
        data.set(r.value.data, off);
        generations.add(r.value.generation);
      }
      if (generations.size === 1) {
        this.update(dev, { config: data, generation: [...generations][0]! });
        return { ok: true, value: undefined };
      }
    }
    return { ok: false, error: 'config generation kept changing across 5 reads of the config space' };
  }

  /**
   * Shared-memory region 0 (§6.10; length 0 = absent). Never fatal: QEMU before PoC-v2 drops
   * GET_SHM (docs/peers.md §1.1, docs/protocol.md §18 item 11), so one unanswered request marks the
   * bus and later devices are not asked, costing one response timeout per session at most.
   */
  private async readShm(dev: LiveDevice): Promise<void> {
    const n = dev.state.devNum;
    if (!this.dialect.getShm) return;
    if (this.shmUnansweredBy !== null) {
      this.update(dev, { shm: [] });
      if (this.shmUnansweredBy !== n) this.finding(dev, `GET_SHM not asked: dev_num ${this.shmUnansweredBy} left it unanswered on this bus; treated as no shared-memory regions`);
      return;
    }
    const r = await this.dialect.getShm(n, 0);
    this.update(dev, { shm: r.ok && r.value ? [r.value] : [] });
    // A GET_SHM that failed because the link died says nothing about the peer: initialise reports the loss.
    if (r.ok || this.lostBecause !== null) return;
    if (!r.unanswered) {
      this.finding(dev, `GET_SHM shmid 0: ${r.error}; treated as no shared-memory regions`);
      return;
    }
    this.shmUnansweredBy = n;
    this.finding(dev, `GET_SHM shmid 0 not answered within ${this.opts.responseTimeoutMs} ms; QEMU before PoC-v2 does not answer GET_SHM: treated as no shared-memory regions`);
    this.busFindingList.push(`GET_SHM went unanswered (dev_num ${n}): later devices on this bus are not asked and have no shared-memory regions`);
  }

  private async setupQueues(dev: LiveDevice, names: readonly string[]): Promise<Result<void>> {
    const n = dev.state.devNum;
    const max = dev.state.maxVirtqueues;
    if (max !== null && max < names.length) {
      return { ok: false, error: `device has ${max} virtqueues, its driver needs ${names.length} (${names.join(', ')})` };
    }
    for (let index = 0; index < names.length; index++) {
      const g = await this.dialect.getVqueue(n, index);
      if (!g.ok) return { ok: false, error: `GET_VQUEUE ${index}: ${g.error}` };
      if (g.value.index !== index) return { ok: false, error: `GET_VQUEUE ${index} answered for queue ${g.value.index}` };
      if (g.value.maxSize === 0) return { ok: false, error: `queue ${index} (${names[index]}) is unavailable: max_size 0` };
      if (g.value.curSize !== null && g.value.curSize !== 0) {
        this.finding(dev, `GET_VQUEUE ${index} reports cur_size ${g.value.curSize} before any SET_VQUEUE (spec: 0 for an unconfigured queue; QEMU reports its default size)`);
      }
      let size = 1;
      while (size * 2 <= Math.min(g.value.maxSize, this.opts.maxQueueSize ?? 128)) size *= 2;
      const placed = DriverVirtqueue.allocate(this.alloc, this.opts.data.window, this.opts.data.peerBase, size);
      if (!placed.ok) return { ok: false, error: `no room for queue ${index} in data memory: ${placed.error}` };
      const vq = placed.value;
      const onIndex = this.opts.onQueueIndex;
      if (onIndex) {
        vq.onIndexChange = (q, usedIdx) => onIndex(n, index, { availIdx: q.availIndex, usedIdx, lastSeenUsed: q.lastSeenUsed, inFlight: q.inFlight });
      }
      const onBuffer = this.opts.onBuffer;
      if (onBuffer) vq.bufferWatch = { max: onBuffer.max, seen: (toDevice, head, length, bytes) => onBuffer.seen(n, index, toDevice, head, length, bytes) };
      await vq.init();
      const addrs = { desc: vq.descAddr, driver: vq.driverAddr, device: vq.deviceAddr };
      const s = await this.dialect.setVqueue(n, index, size, addrs);
      if (!s.ok) {
        this.alloc.free(vq.offsets.desc);
        return { ok: false, error: `SET_VQUEUE ${index}: ${s.error}` };
      }
      const model: QueueModel = { index, name: names[index]!, size, maxSize: g.value.maxSize, descAddr: addrs.desc, driverAddr: addrs.driver, deviceAddr: addrs.device, usedEvents: 0 };
      dev.queues.push({ model, vq, buffers: new OwnedAllocator(this.alloc, `queue ${index} of device ${n}`), waiters: [], pendingUsed: false });
      // §14.2 step 9b: confirm with GET_VQUEUE where the revision reports the configuration.
      if (this.opts.revision !== 'r0') {
        const v = await this.dialect.getVqueue(n, index);
        if (!v.ok) return { ok: false, error: `GET_VQUEUE ${index} after SET_VQUEUE: ${v.error}` };
        if (v.value.curSize !== size || v.value.descAddr !== addrs.desc || v.value.driverAddr !== addrs.driver || v.value.deviceAddr !== addrs.device) {
          return {
            ok: false,
            error: `queue ${index} reads back size ${v.value.curSize} desc 0x${v.value.descAddr.toString(16)}, expected size ${size} desc 0x${addrs.desc.toString(16)}`,
          };
        }
        if (v.value.enabled === false) return { ok: false, error: `queue ${index} is not enabled after SET_VQUEUE with flags enable` };
      }
      this.update(dev, {});
    }
    return { ok: true, value: undefined };
  }

  private onEvent(bytes: Uint8Array): void {
    const ev: InboundEvent | null = this.dialect.parseEvent(bytes);
    if (!ev) return;
    if (ev.kind === 'device') {
      if (ev.state === 'added') this.added(ev.devNum);
      else if (ev.state === 'removed') this.removed(ev.devNum);
      return;
    }
    const dev = this.eventTarget(ev.devNum);
    if (!dev) return;
    if (ev.kind === 'used') {
      const q = dev.queues[ev.queue];
      if (!q) {
        // The ST firmware puts its bus id in vq_idx (OpenAMP virtio_msg_bus_vq_notify): wake them all.
        this.finding(dev, `EVENT_USED names queue ${ev.queue}, the device has ${dev.queues.length}; treated as "some queue"`);
        for (const lq of dev.queues) this.used(lq);
      } else this.used(q);
      this.update(dev, {});
      return;
    }
    this.update(dev, { status: ev.status, generation: ev.generation ?? dev.state.generation });
    if ((ev.status & STATUS.DEVICE_NEEDS_RESET) !== 0) {
      // Said by name: the workloads that fail with the torn-down queues say why too.
      dev.resetAsked = `it set DEVICE_NEEDS_RESET (EVENT_CONFIG, status ${statusNames(ev.status).join('|')})`;
      this.finding(dev, `the device set DEVICE_NEEDS_RESET (EVENT_CONFIG, status ${statusNames(ev.status).join('|')}): the driver resets it and brings it up again`);
      this.update(dev, { phase: 'needs-reset' });
      void this.bringUp(ev.devNum);
    } else if (dev.state.phase === 'ready') {
      void this.refreshConfig(dev);
    }
  }

  private async refreshConfig(dev: LiveDevice): Promise<void> {
    const r = await this.readConfig(dev);
    if (!r.ok) this.update(dev, { error: r.error });
  }

  private used(q: LiveQueue): void {
    q.model = { ...q.model, usedEvents: q.model.usedEvents + 1 };
    const waiters = q.waiters.splice(0);
    if (waiters.length === 0) q.pendingUsed = true;
    for (const w of waiters) w();
  }

  /**
   * The device an event names. The ST firmware sends EVENT_USED from an uninitialised message,
   * so its dev_num is garbage (OpenAMP virtio_msg_bus_vq_notify); R0 buses carry one device, so
   * an unknown dev_num there means that device, reported once.
   */
  private eventTarget(devNum: number): LiveDevice | undefined {
    const dev = this.devices.get(devNum);
    if (dev || this.opts.revision !== 'r0' || this.devices.size !== 1) return dev;
    const only = [...this.devices.values()][0]!;
    this.finding(only, `event names dev_num ${devNum}, the bus has only dev_num ${only.state.devNum}; attributed to it (the R0 firmware leaves dev_num unset)`);
    return only;
  }

  /** EVENT_DEVICE ADDED: duplicates and out-of-order events are tolerated (§12.3). */
  private added(devNum: number): void {
    const phase = this.devices.get(devNum)?.state.phase;
    if (phase === undefined || phase === 'removed' || phase === 'failed' || phase === 'no-driver') {
      void this.bringUp(devNum);
      return;
    }
    const dev = this.devices.get(devNum)!;
    this.finding(dev, `EVENT_DEVICE ADDED for dev_num ${devNum} while it is ${phase}: ignored as a duplicate`);
  }

  /** EVENT_DEVICE REMOVED: once any bring-up in progress ended, tear down without messaging (§12.3). */
  private removed(devNum: number): void {
    const dev = this.devices.get(devNum);
    if (!dev) return;
    const run = dev.busy.then(() => {
      this.releaseQueues(dev, `device ${devNum} was removed`);
      this.update(dev, { phase: 'removed' });
    });
    dev.busy = run.catch(() => undefined);
  }
}
