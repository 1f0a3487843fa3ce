/**
 * The device role: serves virtio-msg transport and bus messages for a set of device models, as
 * the device side of a board does (QEMU's virtio-msg transport, the Versal card, the M4 firmware).
 *
 * Rules it follows (virtio-msg-protocol.md §11, §17): a malformed message, an unknown msg_id, a
 * response arriving at the device or a message for an absent device is dropped silently — the
 * driver times out; responses copy the request's token (R4 rule, harmless for R3); EVENT_USED is
 * sent only after the used ring was updated; device-originated status changes raise EVENT_CONFIG.
 *
 * R0 plays the ST/OpenAMP firmware (OpenAMP lib/virtio_msg/virtio_msg_rproc_bus.c): it answers
 * by echoing the request buffer without the response bit, fills DEVICE_INFO, GET_FEATURES
 * (index 0, first word only), GET_VQUEUE (max 16), GET_DEVICE_STATUS, echoes SET_FEATURES and
 * SET_VQUEUE, never answers SET_DEVICE_STATUS, GET/SET_CONFIG or RESET_VQUEUE, and puts its own
 * bus id in EVENT_USED's vq_idx.
 */
import type { MemoryWindow } from '../bus/window';
import type { DeviceModel } from '../devices/model';
import { decode, encode } from '../protocol/index';
import { STATUS } from '../protocol/names';
import type { FieldValue, Revision, VirtioMsg } from '../protocol/types';
import { DeviceVirtqueue } from '../virtio/device';

export interface DeviceServerOptions {
  revision: Revision;
  memory: { window: MemoryWindow; peerBase: bigint };
  /** Puts a message on the device→driver queue (the endpoint records and rings). */
  send(bytes: Uint8Array): Promise<void>;
  /** Messages the server dropped, and why (for the simulator's own log). */
  onDrop?(reason: string): void;
}

interface QueueSlot {
  size: number;
  desc: bigint;
  driver: bigint;
  device: bigint;
  enabled: boolean;
  vq: DeviceVirtqueue | null;
}

interface Served {
  model: DeviceModel;
  status: number;
  driverFeatures: bigint;
  queues: Map<number, QueueSlot>;
}

/** The ST firmware's GET_VQUEUE answer (VIRTIO_MSG_VIRTQUEUE_MAX_SIZE 0x10). */
const R0_MAX_QUEUE_SIZE = 16;

type Fields = Record<string, FieldValue>;

function n(f: Fields, name: string): number {
  const v = f[name];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
}
function b(f: Fields, name: string): bigint {
  const v = f[name];
  return typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : 0n;
}

export class DeviceServer {
  private readonly devices = new Map<number, Served>();

  constructor(private readonly opts: DeviceServerOptions) {}

  /** Adds a device; with `announce`, tells the driver with EVENT_DEVICE ADDED (hot-plug). */
  async addDevice(devNum: number, model: DeviceModel, announce = false): Promise<void> {
    this.devices.set(devNum, { model, status: 0, driverFeatures: 0n, queues: new Map() });
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
    await this.sendConfigEvent(devNum, d);
  }

  status(devNum: number): number | undefined {
    return this.devices.get(devNum)?.status;
  }

  /** Handles one message from the driver. */
  async handle(bytes: Uint8Array): Promise<void> {
    const { msg, problems } = decode(bytes, this.opts.revision, { direction: 'driver-to-device' });
    if (!msg) return this.drop('unreadable header');
    const fatal = problems.find((p) => p.code !== 'trailing-bytes' && p.code !== 'reserved-bits');
    if (fatal) return this.drop(`${msg.name}: ${fatal.reason}`);
    if (msg.kind === 'response') return this.drop(`${msg.name}: a response sent to the device`);
    if (msg.bus) return this.handleBus(msg);
    const d = this.devices.get(msg.devNum);
    if (!d) return this.drop(`${msg.name} for absent dev_num ${msg.devNum}`);
    return this.opts.revision === 'r0' ? this.handleR0(msg, d) : this.handleTransport(msg, d);
  }

  private drop(reason: string): void {
    this.opts.onDrop?.(reason);
  }

  private reply(req: VirtioMsg, fields: Fields): Promise<void> {
    return this.opts.send(encode(this.opts.revision, { name: req.name, kind: 'response', devNum: req.devNum, token: req.token, fields }));
  }

  private async handleBus(msg: VirtioMsg): Promise<void> {
    if (msg.name === 'GET_DEVICES') {
      const offset = n(msg.fields, 'offset');
      const count = n(msg.fields, 'count');
      const bitmap = new Uint8Array(Math.ceil(count / 8));
      for (const devNum of this.devices.keys()) {
        const i = devNum - offset;
        if (i >= 0 && i < count) bitmap[i >> 3]! |= 1 << (i & 7);
      }
      return this.reply(msg, { offset, count, next_offset: 0, bitmap });
    }
    if (msg.name === 'PING') return this.reply(msg, { data: n(msg.fields, 'data') });
    return this.drop(`unsupported bus message ${msg.name}`);
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
        const words = (f['features'] as number[] | undefined) ?? [];
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
        const data = f['data'] instanceof Uint8Array ? f['data'] : new Uint8Array(0);
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
      case 'SET_VQUEUE': {
        const index = n(f, 'index');
        const size = n(f, 'size');
        // R4 §6.8: state op 1 enables; R2/R3 have no flags and the queue is usable once set.
        const enable = rev === 'r4' ? (n(f, 'flags') & 3) === 1 : true;
        if (index < m.numQueues && size > 0 && size <= m.queueMaxSize(index)) {
          this.configureQueue(d, index, size, b(f, 'desc_addr'), b(f, 'driver_addr'), b(f, 'device_addr'), enable);
        } else this.drop(`SET_VQUEUE ${index} size ${size} rejected (max ${index < m.numQueues ? m.queueMaxSize(index) : 0})`);
        return this.reply(msg, {});
      }
      case 'RESET_VQUEUE':
        d.queues.delete(n(f, 'index'));
        return this.reply(msg, {});
      case 'GET_SHM':
        // No shared memory regions: length 0 (§11 "SHM region absent").
        return this.reply(msg, rev === 'r4' ? { shmid: n(f, 'shmid'), reserved: 0, length: 0n, address: 0n } : { index: n(f, 'index'), length: 0, address: 0 });
      case 'EVENT_AVAIL':
        return this.serveQueue(msg.devNum, d, n(f, 'vq_index'));
      default:
        return this.drop(`unsupported message ${msg.name}`);
    }
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
        d.driverFeatures = BigInt(((f['features'] as number[] | undefined)?.[0] ?? 0) >>> 0);
        return echo({});
      }
      case 'GET_VQUEUE':
        return echo({ max_size: R0_MAX_QUEUE_SIZE });
      case 'SET_VQUEUE': {
        const index = n(f, 'index');
        const size = n(f, 'size');
        if (index < m.numQueues && size > 0 && size <= R0_MAX_QUEUE_SIZE) {
          this.configureQueue(d, index, size, b(f, 'descriptor_addr'), b(f, 'driver_addr'), b(f, 'device_addr'), true);
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
      d.queues.clear();
      return;
    }
    let next = status & 0xff;
    // FEATURES_OK set for the first time: the device checks the subset (§14.2 step 7).
    if ((next & STATUS.FEATURES_OK) !== 0 && (d.status & STATUS.FEATURES_OK) === 0 && !d.model.acceptFeatures(d.driverFeatures)) {
      next &= ~STATUS.FEATURES_OK;
    }
    d.status = next | (d.status & STATUS.DEVICE_NEEDS_RESET);
  }

  private configureQueue(d: Served, index: number, size: number, desc: bigint, driver: bigint, device: bigint, enabled: boolean): void {
    const { window, peerBase } = this.opts.memory;
    const translate = (addr: bigint, len: number): number | null => {
      const off = addr - peerBase;
      return off >= 0n && off + BigInt(len) <= BigInt(window.size) ? Number(off) : null;
    };
    const created = DeviceVirtqueue.create(window, { size, descAddr: desc, driverAddr: driver, deviceAddr: device }, translate);
    // R4 §6.8: an invalid SET_VQUEUE leaves the queue as it was but is still answered.
    if (!created.ok) return this.drop(`SET_VQUEUE ${index}: ${created.problem.reason}`);
    d.queues.set(index, { size, desc, driver, device, enabled, vq: created.queue });
  }

  /** EVENT_AVAIL: serve the queue, then EVENT_USED once the used ring holds the results. */
  private async serveQueue(devNum: number, d: Served, index: number): Promise<void> {
    if ((d.status & STATUS.DRIVER_OK) === 0) {
      // QEMU answers a kick before DRIVER_OK with an EVENT_CONFIG carrying the status (§10.1).
      return this.sendConfigEvent(devNum, d);
    }
    const q = d.queues.get(index);
    if (!q?.vq || !q.enabled) return this.drop(`EVENT_AVAIL for unconfigured queue ${index}`);
    const r = await d.model.process(index, q.vq, this.opts.memory.window, (i) => {
      const other = d.queues.get(i);
      return other?.enabled ? other.vq : null;
    });
    if (r.used > 0) await this.sendUsed(devNum, index);
    for (const also of r.alsoUsed) if (also.count > 0) await this.sendUsed(devNum, also.queueIndex);
    if (r.problem) {
      this.drop(`queue ${r.problem.queueIndex}: ${r.problem.reason}`);
      await this.raiseNeedsReset(devNum);
    }
  }

  private sendUsed(devNum: number, index: number): Promise<void> {
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

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}
