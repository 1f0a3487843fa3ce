/**
 * The device role: serves virtio-msg transport and bus messages for a set of device models, as
 * the device side of a board does (QEMU's virtio-msg transport, the Versal card, the M4 firmware).
 *
 * Rules it follows (docs/protocol.md §11, §17): a malformed message, an unknown msg_id, a
 * response arriving at the device or a message for an absent device is dropped silently — the
 * driver times out; responses copy the request's token (R4 rule, harmless for R3); EVENT_USED is
 * sent only after the used ring was updated; device-originated status changes raise EVENT_CONFIG.
 *
 * Queue and config rules (§6.8, §6.9, §9, §14.4, §17.2): SET_VQUEUE is atomic — an invalid one
 * (reserved R4 flags, bad size or addresses, changing or disabling an enabled queue) changes
 * nothing and is still answered, the driver checks with GET_VQUEUE; an enabled queue keeps its
 * ring indices; RESET_VQUEUE resets the queue only when VIRTIO_F_RING_RESET is in effect (else a
 * no-op that is answered); SET_CONFIG with a stale generation is refused in R2/R3 and the field
 * ignored in R4 (baseline profile: the strict-generation transport feature is not offered);
 * GET_DEVICES answers as many slots as fit the bus maximum message size and says where to go on.
 *
 * R0 plays the ST/OpenAMP firmware (OpenAMP lib/virtio_msg/virtio_msg_rproc_bus.c): it answers
 * by echoing the request buffer without the response bit, fills DEVICE_INFO, GET_FEATURES
 * (index 0, first word only), GET_VQUEUE (max 16), GET_DEVICE_STATUS, echoes SET_FEATURES and
 * SET_VQUEUE, never answers SET_DEVICE_STATUS, GET/SET_CONFIG or RESET_VQUEUE, and puts its own
 * bus id in EVENT_USED's vq_idx.
 *
 * GET_SHM (§6.10) reports the regions a model offers and length 0 (absent) otherwise; with
 * `silentGetShm` the server drops it unanswered, as QEMU before PoC-v2 does (§16.1).
 */
import type { MemoryWindow } from '../../bus/window';
import type { DeviceModel } from '../../devices/model';
import { decode, encode, fieldBigint as b, fieldBytes, fieldNumber as n, fieldWords, HEADER_SIZE } from '../../protocol/index';
import { FEATURE, featureBit, STATUS } from '../../protocol/names';
import type { FieldValue, Problem, Revision, VirtioMsg } from '../../protocol/types';
import { DeviceVirtqueue } from '../../virtio/deviceRing';

export interface DeviceServerOptions {
  revision: Revision;
  memory: { window: MemoryWindow; peerBase: bigint };
  /**
   * The largest message the bus carries (the profile's maximum, bounded by the queue's slot
   * size): GET_DEVICES answers only as many device slots as fit (§6.14, §12.1).
   */
  maxMessageSize: number;
  /** Puts a message on the device→driver queue (the endpoint records and rings). */
  send(bytes: Uint8Array): Promise<void>;
  /** Messages the server dropped, and why (for the simulator's own log). */
  onDrop?(reason: string): void;
  /** A device's state changed as the driver set it up (status, features, queues; not each used buffer). */
  onChange?(devNum: number): void;
  /** Play QEMU before PoC-v2: GET_SHM is dropped unanswered (docs/peers.md §1.1). */
  silentGetShm?: boolean;
}

/** A served device as the driver set it up: what the Devices and Queues views show of the device side. */
export interface ServedDeviceState {
  devNum: number;
  deviceId: number;
  vendorId: number;
  status: number;
  offeredFeatures: bigint;
  driverFeatures: bigint;
  negotiated: bigint;
  config: Uint8Array;
  generation: number;
  numQueues: number;
  queues: { index: number; size: number; maxSize: number; descAddr: bigint; driverAddr: bigint; deviceAddr: bigint; enabled: boolean; usedEvents: number }[];
}

interface QueueSlot {
  size: number;
  desc: bigint;
  driver: bigint;
  device: bigint;
  enabled: boolean;
  vq: DeviceVirtqueue | null;
  /** EVENT_USED sent for this queue. */
  usedEvents: number;
}

interface Served {
  model: DeviceModel;
  status: number;
  /** What SET_DRIVER_FEATURES wrote. */
  driverFeatures: bigint;
  /** The features in effect: driverFeatures as accepted at FEATURES_OK (0 before and after reset). */
  negotiated: bigint;
  queues: Map<number, QueueSlot>;
}

/** The ST firmware's GET_VQUEUE answer (VIRTIO_MSG_VIRTQUEUE_MAX_SIZE 0x10). */
const R0_MAX_QUEUE_SIZE = 16;

/** R4 SET_VQUEUE flags (§6.8): bits 1:0 state op, then one "use the current value" bit per field. */
const VQ_OP_MASK = 0x3;
const VQ_OP_KEEP_DISABLED = 0;
const VQ_OP_ENABLE = 1;
const VQ_OP_RESERVED = 3;
const VQ_SIZE_IGNORE = 1 << 2;
const VQ_DESC_ADDR_IGNORE = 1 << 3;
const VQ_DRIVER_ADDR_IGNORE = 1 << 4;
const VQ_DEVICE_ADDR_IGNORE = 1 << 5;
/** Bits 31:6 must be zero. */
const VQ_FLAGS_RESERVED = ~0x3f >>> 0;
/** Byte offset of the R4 SET_VQUEUE flags word (8-byte header, then index). */
const R4_SET_VQUEUE_FLAGS_OFFSET = 12;
/** GET_DEVICES response payload before the bitmap: offset, count, next_offset (le16 each). */
const GET_DEVICES_FIXED = 6;
/** R2/R3 GET_SHM carries length and address as le32 (§6.10, §18 item 12). */
const U32_LIMIT = 0x1_0000_0000n;

type Fields = Record<string, FieldValue>;

/** The requests that change what the driver set up (R0 names included): onChange follows them. */
const SETS_UP: ReadonlySet<string> = new Set(['SET_DEVICE_STATUS', 'SET_DRIVER_FEATURES', 'SET_FEATURES', 'SET_VQUEUE', 'RESET_VQUEUE']);

export class DeviceServer {
  private readonly devices = new Map<number, Served>();
  /** Drop GET_SHM unanswered (QEMU before PoC-v2); settable while serving, for tests of that peer. */
  silentGetShm: boolean;

  constructor(private readonly opts: DeviceServerOptions) {
    this.silentGetShm = opts.silentGetShm ?? false;
  }

  /** Adds a device; with `announce`, tells the driver with EVENT_DEVICE ADDED (hot-plug). */
  async addDevice(devNum: number, model: DeviceModel, announce = false): Promise<void> {
    this.devices.set(devNum, { model, status: 0, driverFeatures: 0n, negotiated: 0n, queues: new Map() });
    if (announce) await this.sendDeviceEvent(devNum, 1);
  }

  async removeDevice(devNum: number): Promise<void> {
    if (this.devices.delete(devNum)) await this.sendDeviceEvent(devNum, 2);
  }

  /** The device hit an internal error: DEVICE_NEEDS_RESET plus EVENT_CONFIG (§14.3). */
  async raiseNeedsReset(devNum: number): Promise<void> {
    const d = this.devices.get(devNum);
    if (!d) return;
    d.status |= STATUS.DEVICE_NEEDS_RESET;
    this.opts.onChange?.(devNum);
    await this.sendConfigEvent(devNum, d);
  }

  /** Every device reset (status 0, no queues) as the driver's status write 0 does: what firmware does for a new driver. */
  resetAll(): void {
    for (const [devNum, d] of this.devices) {
      this.setStatus(d, 0);
      this.opts.onChange?.(devNum);
    }
  }

  devicesState(): ServedDeviceState[] {
    return [...this.devices].map(([devNum, d]) => ({
      devNum,
      deviceId: d.model.deviceId,
      vendorId: d.model.vendorId,
      status: d.status,
      offeredFeatures: d.model.offeredFeatures,
      driverFeatures: d.driverFeatures,
      negotiated: d.negotiated,
      config: d.model.readConfig(0, d.model.configSize),
      generation: d.model.configGeneration,
      numQueues: d.model.numQueues,
      queues: [...d.queues].map(([index, q]) => ({
        index,
        size: q.size,
        maxSize: d.model.queueMaxSize(index),
        descAddr: q.desc,
        driverAddr: q.driver,
        deviceAddr: q.device,
        enabled: q.enabled,
        usedEvents: q.usedEvents,
      })),
    }));
  }

  status(devNum: number): number | undefined {
    return this.devices.get(devNum)?.status;
  }

  /** Handles one message from the driver. */
  async handle(bytes: Uint8Array): Promise<void> {
    const { msg, problems } = decode(bytes, this.opts.revision, { direction: 'driver-to-device' });
    if (!msg) return this.drop('unreadable header');
    const fatal = problems.find((p) => !tolerated(msg, p));
    if (fatal) return this.drop(`${msg.name}: ${fatal.reason}`);
    if (msg.kind === 'response') return this.drop(`${msg.name}: a response sent to the device`);
    if (msg.bus) return this.handleBus(msg);
    const d = this.devices.get(msg.devNum);
    if (!d) return this.drop(`${msg.name} for absent dev_num ${msg.devNum}`);
    await (this.opts.revision === 'r0' ? this.handleR0(msg, d) : this.handleTransport(msg, d));
    if (SETS_UP.has(msg.name)) this.opts.onChange?.(msg.devNum);
  }

  private drop(reason: string): void {
    this.opts.onDrop?.(reason);
  }

  private reply(req: VirtioMsg, fields: Fields): Promise<void> {
    return this.opts.send(encode(this.opts.revision, { name: req.name, kind: 'response', devNum: req.devNum, token: req.token, fields }));
  }

  private async handleBus(msg: VirtioMsg): Promise<void> {
    if (msg.name === 'GET_DEVICES') return this.getDevices(msg);
    if (msg.name === 'PING') return this.reply(msg, { data: n(msg.fields, 'data') });
    return this.drop(`unsupported bus message ${msg.name}`);
  }

  /**
   * GET_DEVICES (§6.14, §12.1, §17.1): the window [offset, offset + count) with count reduced so
   * the response fits the bus maximum; next_offset is the next start when devices remain there or
   * beyond, else 0. R2/R3: offset, count and next_offset are multiples of 8 (the codec refuses
   * other request counts; an unaligned offset is malformed too). R4: any count, the bitmap's
   * unused high bits stay 0.
   */
  private getDevices(msg: VirtioMsg): Promise<void> {
    const rev = this.opts.revision;
    const offset = n(msg.fields, 'offset');
    if (rev !== 'r4' && offset % 8 !== 0) return Promise.resolve(this.drop(`GET_DEVICES offset ${offset} is not a multiple of 8 (${rev})`));
    // 8 slots per bitmap byte; a multiple of 8, so an R2/R3 count stays aligned.
    const fits = 8 * Math.max(0, this.opts.maxMessageSize - HEADER_SIZE[rev] - GET_DEVICES_FIXED);
    const count = Math.min(n(msg.fields, 'count'), fits);
    const bitmap = new Uint8Array(Math.ceil(count / 8));
    let more = false;
    for (const devNum of this.devices.keys()) {
      const i = devNum - offset;
      if (i >= 0 && i < count) bitmap[i >> 3]! |= 1 << (i & 7);
      else if (i >= count) more = true;
    }
    // R4: a non-zero next_offset lies past the request offset, so an empty window (count 0) ends the walk.
    const next = more && count > 0 ? offset + count : 0;
    return this.reply(msg, { offset, count, next_offset: next, bitmap });
  }

  private async handleTransport(msg: VirtioMsg, d: Served): Promise<void> {
    const rev = this.opts.revision;
    const m = d.model;
    const f = msg.fields;
    switch (msg.name) {
      case 'GET_DEVICE_INFO': {
        const blocks = Math.max(2, Math.ceil(bitLength(m.offeredFeatures) / 32));
        return this.reply(msg, {
          device_id: m.deviceId,
          vendor_id: m.vendorId,
          ...(rev === 'r4' ? { device_uuid: new Uint8Array(16), num_feature_blocks: blocks } : { num_feature_bits: 32 * blocks }),
          config_size: m.configSize,
          max_virtqueues: m.numQueues,
          admin_vq_start: 0,
          admin_vq_count: 0,
        });
      }
      case 'GET_DEVICE_FEATURES': {
        const block = n(f, 'block_index');
        const count = n(f, 'num_blocks');
        const features = Array.from({ length: count }, (_, j) => Number((m.offeredFeatures >> BigInt(32 * (block + j))) & 0xffffffffn));
        return this.reply(msg, { block_index: block, num_blocks: count, features });
      }
      case 'SET_DRIVER_FEATURES': {
        // R4: each message overwrites only the blocks it addresses (§8.1).
        const block = n(f, 'block_index');
        const words = fieldWords(f, 'features');
        words.forEach((w, j) => {
          const shift = BigInt(32 * (block + j));
          d.driverFeatures = (d.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(w >>> 0) << shift);
        });
        return this.reply(msg, {});
      }
      case 'GET_DEVICE_STATUS':
        return this.reply(msg, { status: d.status });
      case 'SET_DEVICE_STATUS':
        this.setStatus(d, n(f, 'status'));
        return this.reply(msg, { status: d.status });
      case 'GET_CONFIG': {
        const offset = n(f, 'offset');
        const length = n(f, 'length');
        if (offset + length > m.configSize) return this.drop(`GET_CONFIG [${offset}, +${length}) beyond config_size ${m.configSize}`);
        return this.reply(msg, { generation: m.configGeneration, offset, length, data: m.readConfig(offset, length) });
      }
      case 'SET_CONFIG': {
        const offset = n(f, 'offset');
        const data = fieldBytes(f, 'data');
        // §9: R3 (and R2) refuse a write made against another generation than the current one;
        // R4 baseline (transport feature bit 0 not offered) ignores the field.
        const generation = n(f, 'generation');
        if (rev !== 'r4' && generation !== m.configGeneration) {
          this.drop(`SET_CONFIG generation ${generation} is not the current ${m.configGeneration}: refused (length 0)`);
          return this.reply(msg, { generation: m.configGeneration, offset, length: 0, data: new Uint8Array(0) });
        }
        const applied = offset + data.length <= m.configSize && data.length > 0 && m.writeConfig(offset, data);
        return this.reply(msg, { generation: m.configGeneration, offset, length: applied ? data.length : 0, data: applied ? data : new Uint8Array(0) });
      }
      case 'GET_VQUEUE': {
        const index = n(f, 'index');
        const max = index < m.numQueues ? m.queueMaxSize(index) : 0;
        const q = d.queues.get(index);
        return this.reply(msg, {
          index,
          max_size: max,
          cur_size: q?.size ?? 0,
          ...(rev === 'r4' ? { flags: q?.enabled ? 1 : 0 } : rev === 'r3' ? { reserved: 0 } : {}),
          desc_addr: q?.desc ?? 0n,
          driver_addr: q?.driver ?? 0n,
          device_addr: q?.device ?? 0n,
        });
      }
      case 'SET_VQUEUE':
        // Invalid requests change nothing but are answered all the same (§6.8, §11, §17.2).
        this.setVqueue(d, f);
        return this.reply(msg, {});
      case 'RESET_VQUEUE': {
        // §6.9, §14.4: only with VIRTIO_F_RING_RESET in effect; requests are served one at a
        // time, so the queue is quiesced when the response goes out.
        const index = n(f, 'index');
        if ((d.negotiated & featureBit(FEATURE.RING_RESET)) === 0n) {
          this.drop(`RESET_VQUEUE ${index}: VIRTIO_F_RING_RESET not negotiated, nothing done (answered)`);
        } else d.queues.delete(index);
        return this.reply(msg, {});
      }
      case 'GET_SHM':
        return this.getShm(msg, d);
      case 'EVENT_AVAIL':
        return this.serveQueue(msg.devNum, d, n(f, 'vq_index'));
      default:
        return this.drop(`unsupported message ${msg.name}`);
    }
  }

  /** GET_SHM (§6.10): the model's region, or length 0 (§11 "SHM region absent"). */
  private getShm(msg: VirtioMsg, d: Served): Promise<void> {
    const r4 = this.opts.revision === 'r4';
    const shmid = n(msg.fields, r4 ? 'shmid' : 'index');
    if (this.silentGetShm) return Promise.resolve(this.drop(`GET_SHM ${shmid}: not answered (playing QEMU before PoC-v2)`));
    let region = d.model.sharedMemory?.find((s) => s.shmid === shmid);
    if (region && !r4 && (region.length >= U32_LIMIT || region.address >= U32_LIMIT)) {
      this.drop(`GET_SHM ${shmid}: region at 0x${region.address.toString(16)} (+0x${region.length.toString(16)}) does not fit ${this.opts.revision}'s le32 fields; answered absent`);
      region = undefined;
    }
    const length = region?.length ?? 0n;
    const address = region?.address ?? 0n;
    return this.reply(msg, r4 ? { shmid, reserved: 0, length, address } : { index: shmid, length: Number(length), address: Number(address) });
  }

  private async handleR0(msg: VirtioMsg, d: Served): Promise<void> {
    const m = d.model;
    const f = msg.fields;
    // The firmware answers in the request buffer: response layout, response bit still clear.
    const echo = (fields: Fields) => this.opts.send(encode('r0', { name: msg.name, kind: 'response', type: msg.type, devNum: msg.devNum, fields: { ...f, ...fields } }));
    switch (msg.name) {
      case 'DEVICE_INFO':
        return echo({ version: 0, device_id: m.deviceId, vendor_id: m.vendorId });
      case 'GET_FEATURES': {
        if (n(f, 'index') !== 0) return this.drop('GET_FEATURES: non-zero index not supported by the firmware');
        const words = [Number(m.offeredFeatures & 0xffffffffn), 0, 0, 0, 0, 0, 0, 0];
        return echo({ features: words });
      }
      case 'SET_FEATURES': {
        if (n(f, 'index') !== 0) return this.drop('SET_FEATURES: non-zero index not supported by the firmware');
        d.driverFeatures = BigInt((fieldWords(f, 'features')[0] ?? 0) >>> 0);
        return echo({});
      }
      case 'GET_VQUEUE':
        return echo({ max_size: R0_MAX_QUEUE_SIZE });
      case 'SET_VQUEUE': {
        const index = n(f, 'index');
        const size = n(f, 'size');
        if (index < m.numQueues && size > 0 && size <= R0_MAX_QUEUE_SIZE) {
          const desc = b(f, 'descriptor_addr');
          const driver = b(f, 'driver_addr');
          const device = b(f, 'device_addr');
          const created = this.createQueue(size, desc, driver, device);
          if (created.ok) d.queues.set(index, { size, desc, driver, device, enabled: true, vq: created.value, usedEvents: 0 });
          else this.drop(`SET_VQUEUE ${index}: ${created.error.reason}`);
        }
        return echo({});
      }
      case 'SET_DEVICE_STATUS':
        this.setStatus(d, n(f, 'status'));
        return;
      case 'GET_DEVICE_STATUS':
        return echo({ status: d.status });
      case 'EVENT_AVAIL':
        return this.serveQueue(msg.devNum, d, n(f, 'vq_idx'));
      default:
        return this.drop(`the R0 firmware ignores ${msg.name}`);
    }
  }

  private setStatus(d: Served, status: number): void {
    if (status === 0) {
      d.model.reset();
      d.status = 0;
      d.driverFeatures = 0n;
      d.negotiated = 0n;
      d.queues.clear();
      return;
    }
    let next = status & 0xff;
    // FEATURES_OK set for the first time: the device checks the subset (§14.2 step 7); accepted,
    // it is the feature set in effect.
    if ((next & STATUS.FEATURES_OK) !== 0 && (d.status & STATUS.FEATURES_OK) === 0) {
      if (d.model.acceptFeatures(d.driverFeatures)) d.negotiated = d.driverFeatures;
      else next &= ~STATUS.FEATURES_OK;
    }
    d.status = next | (d.status & STATUS.DEVICE_NEEDS_RESET);
  }

  /**
   * SET_VQUEUE for R2–R4 (§6.8, §14.4, §17.2), all or nothing. R4 flags: state op 0 keeps the
   * queue disabled, 1 enables it, 2 keeps its state, 3 is reserved; bits 2–5 take the current
   * size / desc / driver / device address instead of the request's; bits 31:6 are zero. R2/R3
   * have no flags: the fields are applied and the queue is usable. An enabled queue can be
   * neither changed nor disabled (that takes RESET_VQUEUE or a device reset); setting it again
   * as it is leaves it running with its ring indices.
   */
  private setVqueue(d: Served, f: Fields): void {
    const m = d.model;
    const index = n(f, 'index');
    const noop = (why: string) => this.drop(`SET_VQUEUE ${index}: ${why}; nothing changed (answered)`);
    const cur = d.queues.get(index);
    const flags = this.opts.revision === 'r4' ? n(f, 'flags') >>> 0 : VQ_OP_ENABLE;
    const op = flags & VQ_OP_MASK;
    if ((flags & VQ_FLAGS_RESERVED) !== 0) return noop(`flags 0x${flags.toString(16)} has reserved bits 31:6 set`);
    if (op === VQ_OP_RESERVED) return noop('flags state op 3 is reserved');
    const pick = <T>(ignore: number, current: T | undefined, zero: T, given: T): T => ((flags & ignore) !== 0 ? (current ?? zero) : given);
    const size = pick(VQ_SIZE_IGNORE, cur?.size, 0, n(f, 'size'));
    const desc = pick(VQ_DESC_ADDR_IGNORE, cur?.desc, 0n, b(f, 'desc_addr'));
    const driver = pick(VQ_DRIVER_ADDR_IGNORE, cur?.driver, 0n, b(f, 'driver_addr'));
    const device = pick(VQ_DEVICE_ADDR_IGNORE, cur?.device, 0n, b(f, 'device_addr'));
    if (cur?.enabled) {
      if (size !== cur.size || desc !== cur.desc || driver !== cur.driver || device !== cur.device) {
        return noop('the queue is enabled; its size and addresses change only after RESET_VQUEUE');
      }
      if (op === VQ_OP_KEEP_DISABLED) return noop('the queue is enabled; SET_VQUEUE cannot disable it');
      return; // enable / keep current with the same values: it runs on, indices untouched
    }
    const max = index < m.numQueues ? m.queueMaxSize(index) : 0;
    if (size === 0 || size > max) return noop(`size ${size} not in 1..${max}`);
    const created = this.createQueue(size, desc, driver, device);
    if (!created.ok) return noop(created.error.reason);
    d.queues.set(index, { size, desc, driver, device, enabled: op === VQ_OP_ENABLE, vq: created.value, usedEvents: 0 });
  }

  private createQueue(size: number, desc: bigint, driver: bigint, device: bigint): ReturnType<typeof DeviceVirtqueue.create> {
    const { window, peerBase } = this.opts.memory;
    const translate = (addr: bigint, len: number): number | null => {
      const off = addr - peerBase;
      return off >= 0n && off + BigInt(len) <= BigInt(window.size) ? Number(off) : null;
    };
    return DeviceVirtqueue.create(window, { size, descAddr: desc, driverAddr: driver, deviceAddr: device }, translate);
  }

  /** EVENT_AVAIL: serve the queue, then EVENT_USED once the used ring holds the results. */
  private async serveQueue(devNum: number, d: Served, index: number): Promise<void> {
    if ((d.status & STATUS.DRIVER_OK) === 0) {
      // QEMU answers a kick before DRIVER_OK with an EVENT_CONFIG carrying the status (§10.1).
      return this.sendConfigEvent(devNum, d);
    }
    const q = d.queues.get(index);
    if (!q?.vq || !q.enabled) return this.drop(`EVENT_AVAIL for ${q ? 'disabled' : 'unconfigured'} queue ${index}`);
    const r = await d.model.process(index, q.vq, this.opts.memory.window, (i) => {
      const other = d.queues.get(i);
      return other?.enabled ? other.vq : null;
    });
    if (r.used > 0) await this.sendUsed(devNum, d, index);
    for (const also of r.alsoUsed) if (also.count > 0) await this.sendUsed(devNum, d, also.queueIndex);
    if (!r.ok) {
      this.drop(`queue ${r.error.queueIndex}: ${r.error.reason}`);
      await this.raiseNeedsReset(devNum);
    }
  }

  private sendUsed(devNum: number, d: Served, index: number): Promise<void> {
    const q = d.queues.get(index);
    if (q) q.usedEvents++;
    if (this.opts.revision === 'r0') {
      // The firmware sends its bus id as vq_idx (virtio_msg_bus_vq_notify).
      return this.opts.send(encode('r0', { name: 'EVENT_USED', kind: 'event', devNum, fields: { vq_idx: devNum } }));
    }
    return this.opts.send(encode(this.opts.revision, { name: 'EVENT_USED', kind: 'event', devNum, fields: { vq_index: index } }));
  }

  private sendConfigEvent(devNum: number, d: Served): Promise<void> {
    if (this.opts.revision === 'r0') {
      return this.opts.send(encode('r0', { name: 'EVENT_CONFIG', kind: 'event', devNum, fields: { status: BigInt(d.status), offset: 0, size: 0, data: new Uint8Array(0) } }));
    }
    return this.opts.send(
      encode(this.opts.revision, {
        name: 'EVENT_CONFIG',
        kind: 'event',
        devNum,
        fields: { device_status: d.status, generation: d.model.configGeneration, offset: 0, length: 0, data: new Uint8Array(0) },
      }),
    );
  }

  private sendDeviceEvent(devNum: number, state: number): Promise<void> {
    if (this.opts.revision === 'r0') return Promise.resolve();
    return this.opts.send(encode(this.opts.revision, { name: 'EVENT_DEVICE', kind: 'event', bus: true, devNum: 0, fields: { device_number: devNum, device_bus_state: state } }));
  }
}

/**
 * Decode problems the server lets through: stray non-zero bytes in reserved words and padding,
 * and the R4 SET_VQUEUE flags word, which setVqueue checks itself (a reserved state op makes the
 * request a no-op that is still answered, §6.8, §17.2).
 */
function tolerated(msg: VirtioMsg, p: Problem): boolean {
  if (p.code === 'trailing-bytes' || p.code === 'reserved-bits') return true;
  return msg.revision === 'r4' && msg.name === 'SET_VQUEUE' && p.code === 'bad-field' && p.offset === R4_SET_VQUEUE_FLAGS_OFFSET;
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}
