/**
 * Device and queue state rebuilt from observed messages alone, for a passive monitor and for a
 * capture opened from disk (docs/protocol.md §6, §14.2): devices from GET_DEVICES and
 * EVENT_DEVICE, identity from GET_DEVICE_INFO, status from SET_DEVICE_STATUS / GET_DEVICE_STATUS
 * and EVENT_CONFIG, features from GET_DEVICE_FEATURES and SET_DRIVER_FEATURES, config bytes from
 * GET_CONFIG / SET_CONFIG / EVENT_CONFIG, virtqueues from SET_VQUEUE, GET_VQUEUE and RESET_VQUEUE,
 * EVENT_USED counted per queue. R0 (the OpenAMP prototype) by its own names.
 *
 * A response is read together with the request it answers (one outstanding request per dev_num
 * and lane, docs/protocol.md §7), so a GET_DEVICE_FEATURES answer knows its block. What was
 * never observed stays unknown: null sizes, no queues, and `seen` says which kinds of
 * message were observed for the device, so a view can say what it could not see.
 */
import { newDeviceState, type DeviceState, type QueueModel } from '../driver/driver';
import { deviceDescriptor } from '../../devices/registry';
import { decode, decodeHeader, lookupMessage } from '../../protocol/index';
import { deviceTypeName, STATUS } from '../../protocol/names';
import type { Direction, FieldValue, Revision, VirtioMsg } from '../../protocol/types';
import { bitmapDevices } from '../driver/dialect';

/** What the model learnt a device's state from. */
export type Evidence = 'enumeration' | 'info' | 'status' | 'features' | 'config' | 'queues';

export interface ObservedDevice extends DeviceState {
  /** Which parts of the state messages were observed for (the rest is unknown, not zero). */
  seen: Evidence[];
}

interface Live {
  state: ObservedDevice;
  /** Feature words by block index: device's offer and driver's choice. */
  offered: Map<number, number>;
  negotiated: Map<number, number>;
  queues: Map<number, QueueModel>;
}

const num = (v: FieldValue | undefined): number | null => (typeof v === 'number' ? v : null);
const big = (v: FieldValue | undefined): bigint | null => (typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : null);
const words = (v: FieldValue | undefined): number[] => (Array.isArray(v) ? v : []);

function featureValue(blocks: Map<number, number>): bigint {
  let out = 0n;
  for (const [block, word] of blocks) if (block < 2) out |= BigInt(word >>> 0) << BigInt(32 * block);
  return out;
}

/** The phase a status value shows (docs/protocol.md §14.2), as the driver role names them. */
function phaseOf(status: number, removed: boolean): DeviceState['phase'] {
  if (removed) return 'removed';
  if (status & STATUS.FAILED) return 'failed';
  if (status & STATUS.DEVICE_NEEDS_RESET) return 'needs-reset';
  if (status & STATUS.DRIVER_OK) return 'ready';
  if (status & STATUS.FEATURES_OK) return 'queues';
  if (status & STATUS.DRIVER) return 'negotiating';
  if (status & STATUS.ACKNOWLEDGE) return 'probing';
  return 'resetting';
}

export class BusModel {
  private readonly devices = new Map<number, Live>();
  /** Outstanding request per lane: `${bus}:${devNum}` → the decoded request. */
  private readonly pending = new Map<string, VirtioMsg>();
  private version = 0;

  constructor(private readonly revision: Revision) {}

  /** Bumped on every change, so a caller can tell whether to publish the state again. */
  get changes(): number {
    return this.version;
  }

  /** Feeds one observed message (trimmed to msg_size) travelling `dir`. */
  observe(dir: Direction, bytes: Uint8Array): void {
    // EVENT_AVAIL, the bulk of a busy bus, changes no state: not decoded beyond its header.
    const h = decodeHeader(bytes, this.revision);
    if (!h || (h.kind === 'event' && !h.bus && lookupMessage(this.revision, false, h.msgId).name === 'EVENT_AVAIL')) return;
    const { msg } = decode(bytes, this.revision, { direction: dir });
    if (!msg) return;
    const lane = `${msg.bus ? 1 : 0}:${msg.devNum}`;
    if (msg.kind === 'event') return this.event(msg);
    // R0 devices answer with the request's id and no response bit (docs/amp-bus.md §3.2).
    const answer = msg.kind === 'response' || (this.revision === 'r0' && dir === 'device-to-driver');
    if (!answer) {
      this.pending.set(lane, msg);
      this.request(msg);
      return;
    }
    const request = this.pending.get(lane);
    if (request && request.msgId === msg.msgId) this.pending.delete(lane);
    this.response(msg, request?.msgId === msg.msgId ? request : null);
  }

  /** Every device observed so far, by dev_num. */
  states(): ObservedDevice[] {
    return [...this.devices.values()]
      .sort((a, b) => a.state.devNum - b.state.devNum)
      .map((d) => ({
        ...d.state,
        featuresOffered: featureValue(d.offered),
        featuresNegotiated: featureValue(d.negotiated),
        queues: [...d.queues.values()].sort((a, b) => a.index - b.index).map((q) => ({ ...q })),
        config: d.state.config.slice(),
        seen: [...d.state.seen],
        findings: [...d.state.findings],
      }));
  }

  private device(devNum: number): Live {
    let d = this.devices.get(devNum);
    if (!d) {
      d = {
        state: { ...newDeviceState(devNum), seen: [] },
        offered: new Map(),
        negotiated: new Map(),
        queues: new Map(),
      };
      this.devices.set(devNum, d);
    }
    return d;
  }

  private saw(d: Live, what: Evidence): void {
    if (!d.state.seen.includes(what)) d.state.seen.push(what);
    this.version++;
  }

  private setStatus(d: Live, status: number): void {
    d.state.status = status >>> 0;
    d.state.phase = phaseOf(d.state.status, d.state.phase === 'removed');
    // A reset (status 0) forgets the negotiated features and the queues (docs/protocol.md §14.2).
    if (status === 0) {
      d.negotiated.clear();
      d.queues.clear();
    }
    this.saw(d, 'status');
  }

  private writeConfig(d: Live, offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    if (d.state.config.length < end) {
      const grown = new Uint8Array(Math.max(end, d.state.configSize ?? 0));
      grown.set(d.state.config);
      d.state.config = grown;
    }
    d.state.config.set(data, offset);
    this.saw(d, 'config');
  }

  private queue(d: Live, index: number): QueueModel {
    let q = d.queues.get(index);
    if (!q) {
      const names = deviceDescriptor(d.state.deviceId)?.driver?.queues ?? [];
      q = { index, name: names[index] ?? `queue ${index}`, size: 0, maxSize: 0, descAddr: 0n, driverAddr: 0n, deviceAddr: 0n, usedEvents: 0 };
      d.queues.set(index, q);
    }
    return q;
  }

  private request(m: VirtioMsg): void {
    if (m.bus) return;
    const d = this.device(m.devNum);
    const f = m.fields;
    switch (m.name) {
      case 'SET_DRIVER_FEATURES':
        this.featureWords(d.negotiated, num(f['block_index']) ?? 0, words(f['features']));
        this.saw(d, 'features');
        return;
      case 'SET_FEATURES': // R0: index and the words
        this.featureWords(d.negotiated, num(f['index']) ?? 0, words(f['features']));
        this.saw(d, 'features');
        return;
      case 'SET_DEVICE_STATUS':
        this.setStatus(d, num(f['status']) ?? 0);
        return;
      case 'SET_CONFIG':
        this.writeConfig(d, num(f['offset']) ?? 0, f['data'] instanceof Uint8Array ? f['data'] : new Uint8Array(0));
        return;
      case 'SET_VQUEUE': {
        const q = this.queue(d, num(f['index']) ?? 0);
        q.size = num(f['size']) ?? q.size;
        q.descAddr = big(f['desc_addr'] ?? f['descriptor_addr']) ?? q.descAddr;
        q.driverAddr = big(f['driver_addr']) ?? q.driverAddr;
        q.deviceAddr = big(f['device_addr']) ?? q.deviceAddr;
        this.saw(d, 'queues');
        return;
      }
      case 'RESET_VQUEUE':
        d.queues.delete(num(f['index']) ?? -1);
        this.saw(d, 'queues');
        return;
    }
  }

  private response(m: VirtioMsg, request: VirtioMsg | null): void {
    const f = m.fields;
    if (m.bus) {
      if (m.name !== 'GET_DEVICES') return;
      const bitmap = f['bitmap'];
      const found = bitmapDevices(num(f['offset']) ?? 0, num(f['count']) ?? 0, bitmap instanceof Uint8Array ? bitmap : new Uint8Array(0));
      for (const n of found) this.saw(this.device(n), 'enumeration');
      return;
    }
    const d = this.device(m.devNum);
    switch (m.name) {
      case 'GET_DEVICE_INFO':
      case 'DEVICE_INFO': {
        d.state.deviceId = num(f['device_id']) ?? 0;
        d.state.deviceType = deviceTypeName(d.state.deviceId);
        d.state.vendorId = num(f['vendor_id']) ?? 0;
        d.state.configSize = num(f['config_size']);
        d.state.maxVirtqueues = num(f['max_virtqueues']);
        const uuid = f['device_uuid'];
        if (uuid instanceof Uint8Array && uuid.some((b) => b !== 0)) d.state.uuid = [...uuid].map((b) => b.toString(16).padStart(2, '0')).join('');
        for (const q of d.queues.values()) q.name = deviceDescriptor(d.state.deviceId)?.driver?.queues[q.index] ?? q.name;
        this.saw(d, 'info');
        return;
      }
      case 'GET_DEVICE_FEATURES':
        this.featureWords(d.offered, num(f['block_index']) ?? 0, words(f['features']));
        this.saw(d, 'features');
        return;
      case 'GET_FEATURES':
        this.featureWords(d.offered, num(f['index']) ?? 0, words(f['features']));
        this.saw(d, 'features');
        return;
      case 'GET_DEVICE_STATUS':
      case 'SET_DEVICE_STATUS':
        this.setStatus(d, num(f['status']) ?? 0);
        return;
      case 'GET_CONFIG':
        if (f['data'] instanceof Uint8Array) this.writeConfig(d, num(f['offset']) ?? 0, f['data']);
        if (num(f['generation']) !== null) d.state.generation = num(f['generation']);
        return;
      case 'GET_CONFIG_GEN':
        d.state.generation = num(f['generation']);
        this.saw(d, 'config');
        return;
      case 'GET_VQUEUE': {
        const index = num(f['index']) ?? num(request?.fields['index']) ?? 0;
        const q = this.queue(d, index);
        q.maxSize = num(f['max_size']) ?? q.maxSize;
        this.saw(d, 'queues');
        return;
      }
    }
  }

  private event(m: VirtioMsg): void {
    const f = m.fields;
    if (m.bus) {
      if (m.name !== 'EVENT_DEVICE') return;
      const d = this.device(num(f['device_number']) ?? 0);
      const removed = num(f['device_bus_state']) === 2;
      d.state.phase = removed ? 'removed' : phaseOf(d.state.status, false);
      this.saw(d, 'enumeration');
      return;
    }
    const d = this.device(m.devNum);
    switch (m.name) {
      case 'EVENT_CONFIG': {
        const status = num(f['device_status']) ?? (typeof f['status'] === 'bigint' ? Number(f['status'] & 0xffffffffn) : null);
        if (status !== null) this.setStatus(d, status);
        if (num(f['generation']) !== null) d.state.generation = num(f['generation']);
        if (f['data'] instanceof Uint8Array && f['data'].length > 0) this.writeConfig(d, num(f['offset']) ?? 0, f['data']);
        return;
      }
      case 'EVENT_USED': {
        const q = this.queue(d, num(f['vq_index'] ?? f['vq_idx']) ?? 0);
        q.usedEvents++;
        this.version++;
        return;
      }
    }
  }

  private featureWords(into: Map<number, number>, block: number, w: readonly number[]): void {
    w.forEach((word, i) => into.set(block + i, word >>> 0));
  }
}
