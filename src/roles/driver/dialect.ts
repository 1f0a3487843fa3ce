/**
 * One small function per transport operation (the shape of Linux drivers/virtio/virtio_msg.c):
 * each prepares one message, transfers it and checks the answer. Two dialects:
 * - R2/R3/R4 (docs/protocol.md §6, §6R2), which differ only in a few fields;
 * - R0, the ST/OpenAMP prototype (docs/amp-bus.md §3.2, OpenAMP virtio_msg_rproc_bus.c): 32 bytes of
 *   features per index, no config size or queue count in DEVICE_INFO, no bus messages, and a
 *   firmware that answers only some requests (SET_DEVICE_STATUS is never answered, so status
 *   writes are confirmed with GET_DEVICE_STATUS).
 */
import { describeMessage } from '../../bus/matcher';
import { decode, encode, fieldBigint as big, fieldBytes as bytes, fieldNumber as num, fieldWords as words, HEADERS, layoutSize } from '../../protocol/index';
import { toHex } from '../../util/hex';
import type { FieldValue, Revision, VirtioMsg } from '../../protocol/types';
import type { DriverPort } from './port';
import type { Fail, Ok, Result } from '../../util/result';

export interface DeviceInfo {
  deviceId: number;
  vendorId: number;
  /** Feature bits the device may offer (R0: 256 per GET_FEATURES index, one index read). */
  featureBits: number;
  /** null where the revision does not say (R0). */
  configSize: number | null;
  maxVirtqueues: number | null;
  uuid?: string;
}

export interface VqueueInfo {
  index: number;
  maxSize: number;
  curSize: number | null;
  enabled: boolean | null;
  descAddr: bigint;
  driverAddr: bigint;
  deviceAddr: bigint;
}

export interface ConfigRead {
  generation: number;
  data: Uint8Array;
}

export interface DeviceEntry {
  devNum: number;
}

/** One shared-memory region a device reports (GET_SHM, docs/protocol.md §6.10). */
export interface ShmRegion {
  shmid: number;
  length: bigint;
  /** Physical base address, in the device's view. */
  address: bigint;
}

/**
 * GET_SHM's outcome: the region, or null when the device reports length 0 (region absent).
 * `unanswered` tells a request that got no answer at all (QEMU before PoC-v2 drops GET_SHM)
 * from an answer that was unusable.
 */
/** A failure that says whether the device answered at all (`unanswered`: it may not implement the operation). */
export type UnansweredOr = Fail & { unanswered: boolean };
export type ShmResult = Ok<ShmRegion | null> | UnansweredOr;

export interface Dialect {
  readonly revision: Revision;
  /** The largest config chunk one GET_CONFIG carries (0 when the revision has no GET_CONFIG the firmware answers). */
  readonly configChunk: number;
  readonly hasBusMessages: boolean;
  getDeviceInfo(devNum: number): Promise<Result<DeviceInfo>>;
  getFeatures(devNum: number, featureBits: number): Promise<Result<bigint>>;
  setFeatures(devNum: number, featureBits: number, features: bigint): Promise<Result<void>>;
  getStatus(devNum: number): Promise<Result<number>>;
  /** Writes status and returns the status the device reports afterwards. */
  setStatus(devNum: number, status: number): Promise<Result<number>>;
  getConfig(devNum: number, offset: number, length: number): Promise<Result<ConfigRead>>;
  getVqueue(devNum: number, index: number): Promise<Result<VqueueInfo>>;
  setVqueue(devNum: number, index: number, size: number, addrs: { desc: bigint; driver: bigint; device: bigint }): Promise<Result<void>>;
  /** EVENT_AVAIL (no response). */
  kick(devNum: number, index: number, nextOffset: number): Promise<Result<void>>;
  getDevices(): Promise<Result<DeviceEntry[]>>;
  /** GET_SHM for one region; absent where the revision has no GET_SHM (R0). */
  getShm?(devNum: number, shmid: number): Promise<ShmResult>;
  /** Parses an inbound event; null when the bytes are not one this dialect knows. */
  parseEvent(bytes: Uint8Array): InboundEvent | null;
}

export type InboundEvent =
  | { kind: 'used'; devNum: number; queue: number }
  | { kind: 'config'; devNum: number; status: number; generation: number | null }
  | { kind: 'device'; devNum: number; state: 'added' | 'removed' | 'other'; raw: number };

/** Feature bits as 32-bit words, least significant first. */
export function featureWords(features: bigint, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Number((features >> BigInt(32 * i)) & 0xffffffffn));
}
export function wordsToFeatures(ws: readonly number[]): bigint {
  return ws.reduce((acc, w, i) => acc | (BigInt(w >>> 0) << BigInt(32 * i)), 0n);
}

interface Exchange {
  port: DriverPort;
  revision: Revision;
  timeoutMs: number;
  maxMessageSize: number;
  /** A deviation of the peer that was tolerated (docs/peers.md §1.2: tolerate, report). */
  onFinding(text: string): void;
}

/** A request's outcome; a failure says whether any answer came back (`unanswered`: none did). */
type CallResult = Ok<Record<string, FieldValue>> | UnansweredOr;

/**
 * Sends one request and checks the answer is the response to it; returns its fields. The
 * driver never acts on a field past msg_size: a response shorter than its layout is malformed,
 * whatever the slot held beyond it.
 */
async function call(x: Exchange, name: string, devNum: number, fields: Record<string, FieldValue>, bus = false): Promise<CallResult> {
  const req = encode(x.revision, { name, kind: 'request', devNum, bus, fields });
  const r = await x.port.request(req, x.timeoutMs);
  if (!r.ok) return { ok: false, error: r.error, unanswered: r.timedOut === true };
  const d = decode(r.value, x.revision, { direction: 'device-to-driver', maxSize: x.maxMessageSize });
  const msg: VirtioMsg | null = d.msg;
  if (!msg || msg.name !== name || msg.kind !== 'response') {
    return { ok: false, error: `expected a ${name} response, saw ${msg ? `${msg.name} (${msg.kind})` : 'an unreadable message'}`, unanswered: false };
  }
  const malformed = `malformed ${describeMessage(x.revision, msg, ' response')}`;
  const need = layoutSize(msg);
  if (msg.msgSize < need) {
    const at = HEADERS[x.revision].msgSizeOffset;
    return { ok: false, error: `${malformed}: msg_size ${msg.msgSize}, its layout needs ${need} bytes (byte ${at}: expected ≥ ${need}, saw ${msg.msgSize})`, unanswered: false };
  }
  // Bytes missing below msg_size make a response unusable too. A msg_size larger than the
  // message's own counts say (QEMU's GET_DEVICES counts its bitmap in bytes,
  // docs/peers.md §1.2) leaves every field readable: tolerated and reported.
  const truncated = d.problems.filter((p) => p.code === 'truncated' || (p.code === 'size-mismatch' && msg.msgSize > r.value.length));
  if (truncated.length > 0) {
    return { ok: false, error: `${malformed}: ${truncated.map((p) => `${p.reason} at byte ${p.offset}`).join('; ')}`, unanswered: false };
  }
  for (const p of d.problems) if (p.code === 'size-mismatch') x.onFinding(`${name} response: ${p.reason} (tolerated)`);
  return { ok: true, value: msg.fields };
}

async function post(x: Exchange, name: string, devNum: number, fields: Record<string, FieldValue>, kind: 'request' | 'event'): Promise<Result<void>> {
  const r = await x.port.post(encode(x.revision, { name, kind, devNum, fields }));
  return r.ok ? { ok: true, value: undefined } : r;
}

function map<T, U>(r: Result<T>, f: (v: T) => U): Result<U> {
  return r.ok ? { ok: true, value: f(r.value) } : r;
}

/** GET_DEVICES bitmap → device numbers (docs/protocol.md §12.1: LSB first). */
export function bitmapDevices(offset: number, count: number, bitmap: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < count && i >> 3 < bitmap.length; i++) if ((bitmap[i >> 3]! >> (i & 7)) & 1) out.push(offset + i);
  return out;
}

function modernDialect(x: Exchange): Dialect {
  const rev = x.revision;
  const headerSize = rev === 'r2' ? 6 : 8;
  // A bus deviation seen on every GET_DEVICES (QEMU's msg_size) is one finding per session.
  const gd: Exchange = { ...x, onFinding: once(x.onFinding) };
  const dialect: Dialect = {
    revision: rev,
    configChunk: Math.max(0, x.maxMessageSize - headerSize - 12),
    hasBusMessages: true,
    async getDeviceInfo(devNum) {
      return map(await call(x, 'GET_DEVICE_INFO', devNum, {}), (f) => {
        const uuid = bytes(f, 'device_uuid');
        const info: DeviceInfo = {
          deviceId: num(f, 'device_id'),
          vendorId: num(f, 'vendor_id'),
          featureBits: rev === 'r4' ? 32 * num(f, 'num_feature_blocks') : num(f, 'num_feature_bits'),
          configSize: num(f, 'config_size'),
          maxVirtqueues: num(f, 'max_virtqueues'),
        };
        if (uuid.length === 16 && uuid.some((b) => b !== 0)) info.uuid = toHex(uuid, '');
        return info;
      });
    },
    async getFeatures(devNum, featureBits) {
      // §14.2 step 5: split into several requests when 16 + 4n exceeds the bus maximum.
      const total = Math.max(2, Math.ceil(featureBits / 32));
      const perMsg = Math.max(1, Math.floor((x.maxMessageSize - headerSize - 8) / 4));
      let features = 0n;
      for (let block = 0; block < total; block += perMsg) {
        const n = Math.min(perMsg, total - block);
        const r = await call(x, 'GET_DEVICE_FEATURES', devNum, { block_index: block, num_blocks: n });
        if (!r.ok) return r;
        if (num(r.value, 'block_index') !== block || num(r.value, 'num_blocks') !== n) {
          return { ok: false, error: `GET_DEVICE_FEATURES echoed block_index ${num(r.value, 'block_index')}/num_blocks ${num(r.value, 'num_blocks')}, expected ${block}/${n}` };
        }
        features |= wordsToFeatures(words(r.value, 'features')) << BigInt(32 * block);
      }
      return { ok: true, value: features };
    },
    async setFeatures(devNum, featureBits, features) {
      const total = Math.max(2, Math.ceil(featureBits / 32));
      const perMsg = Math.max(1, Math.floor((x.maxMessageSize - headerSize - 8) / 4));
      const all = featureWords(features, total);
      for (let block = 0; block < total; block += perMsg) {
        const n = Math.min(perMsg, total - block);
        const r = await call(x, 'SET_DRIVER_FEATURES', devNum, { block_index: block, num_blocks: n, features: all.slice(block, block + n) });
        if (!r.ok) return r;
      }
      return { ok: true, value: undefined };
    },
    async getStatus(devNum) {
      return map(await call(x, 'GET_DEVICE_STATUS', devNum, {}), (f) => num(f, 'status'));
    },
    async setStatus(devNum, status) {
      return map(await call(x, 'SET_DEVICE_STATUS', devNum, { status }), (f) => num(f, 'status'));
    },
    async getConfig(devNum, offset, length) {
      const r = await call(x, 'GET_CONFIG', devNum, { offset, length });
      if (!r.ok) return r;
      const data = bytes(r.value, 'data');
      if (data.length !== length) return { ok: false, error: `GET_CONFIG asked for ${length} bytes at offset ${offset}, device returned ${data.length}` };
      return { ok: true, value: { generation: num(r.value, 'generation'), data } };
    },
    async getVqueue(devNum, index) {
      return map(await call(x, 'GET_VQUEUE', devNum, { index }), (f) => ({
        index: num(f, 'index'),
        maxSize: num(f, 'max_size'),
        curSize: num(f, 'cur_size'),
        enabled: rev === 'r4' ? (num(f, 'flags') & 1) === 1 : null,
        descAddr: big(f, 'desc_addr'),
        driverAddr: big(f, 'driver_addr'),
        deviceAddr: big(f, 'device_addr'),
      }));
    },
    async setVqueue(devNum, index, size, addrs) {
      // R4 flags state op 1 = enable (§6.8); R3/R2 reserved words are zero.
      const reserved = rev === 'r4' ? { flags: 1, reserved1: 0 } : rev === 'r3' ? { reserved0: 0, reserved1: 0 } : { reserved: 0 };
      const r = await call(x, 'SET_VQUEUE', devNum, {
        index,
        size,
        ...reserved,
        desc_addr: addrs.desc,
        driver_addr: addrs.driver,
        device_addr: addrs.device,
      });
      return map(r, () => undefined);
    },
    async getShm(devNum, shmid) {
      // §6.10: R2/R3 name the region `index` and carry le32 length/address; R4 `shmid` and le64.
      const id = rev === 'r4' ? 'shmid' : 'index';
      const r = await call(x, 'GET_SHM', devNum, { [id]: shmid });
      if (!r.ok) return r;
      if (num(r.value, id) !== shmid) return { ok: false, error: `GET_SHM asked for ${id} ${shmid}, the device answered for ${id} ${num(r.value, id)}`, unanswered: false };
      const length = big(r.value, 'length');
      return { ok: true, value: length === 0n ? null : { shmid, length, address: big(r.value, 'address') } };
    },
    kick(devNum, index, nextOffset) {
      return post(x, 'EVENT_AVAIL', devNum, { vq_index: index, next_offset: nextOffset }, 'event');
    },
    async getDevices() {
      // §12.1, asked as the Linux driver asks (docs/amp-bus.md §4.2 step 8): offset 0, count 32, then
      // windows of 32 only while next_offset is non-zero and grows. QEMU's model answers
      // num = MAX(count, 32) bitmap bytes, so a larger count gives it a msg_size larger than its
      // own slot (272 → 286), and copies them out of a 4-byte array: only the bytes of the
      // window we asked for are read, never what msg_size claims past them (QEMU field notes).
      const found = new Set<number>();
      let offset = 0;
      for (let windows = 0; ; windows++) {
        if (windows === MAX_GET_DEVICES_WINDOWS) {
          x.onFinding(`GET_DEVICES walk stopped after ${windows} windows at offset ${offset}: the bus never answered next_offset 0`);
          break;
        }
        const r = await call(gd, 'GET_DEVICES', 0, { offset, count: GET_DEVICES_COUNT }, true);
        if (!r.ok) return r;
        const respOffset = num(r.value, 'offset');
        if (respOffset !== offset) {
          return { ok: false, error: `GET_DEVICES asked for offset ${offset}, the response is for offset ${respOffset}` };
        }
        // The window both sides agree on: a bus may answer fewer slots than asked (§6.14), never more.
        const window = Math.min(num(r.value, 'count'), GET_DEVICES_COUNT);
        // call() has refused a msg_size too short for the response's own count, so the window's bytes are all there.
        for (const d of bitmapDevices(offset, window, bytes(r.value, 'bitmap'))) found.add(d);
        const next = num(r.value, 'next_offset');
        if (next === 0) break;
        if (next <= offset) {
          x.onFinding(`GET_DEVICES at offset ${offset} answered next_offset ${next}: the walk cannot advance, so it ends there`);
          break;
        }
        offset = next;
      }
      return { ok: true, value: [...found].sort((a, b) => a - b).map((devNum) => ({ devNum })) };
    },
    parseEvent(b) {
      const d = decode(b, rev, { direction: 'device-to-driver' });
      const m = d.msg;
      if (!m || m.kind !== 'event') return null;
      if (m.name === 'EVENT_USED') return { kind: 'used', devNum: m.devNum, queue: num(m.fields, 'vq_index') };
      if (m.name === 'EVENT_CONFIG') return { kind: 'config', devNum: m.devNum, status: num(m.fields, 'device_status'), generation: num(m.fields, 'generation') };
      if (m.name === 'EVENT_DEVICE') {
        const state = num(m.fields, 'device_bus_state');
        return { kind: 'device', devNum: num(m.fields, 'device_number'), state: state === 1 ? 'added' : state === 2 ? 'removed' : 'other', raw: state };
      }
      return null;
    },
  };
  return dialect;
}

/** The window the Linux driver asks for, and the only one QEMU's model answers within its slot. */
export const GET_DEVICES_COUNT = 32;
/** Enough for 65536 device numbers in windows of 8, the smallest an R3 bus may answer. */
const MAX_GET_DEVICES_WINDOWS = 8192;

/** A deviation seen on every window of a walk is reported once. */
function once(report: (text: string) => void): (text: string) => void {
  const seen = new Set<string>();
  return (text) => {
    if (!seen.has(text)) report(text);
    seen.add(text);
  };
}

/** R0 GET_FEATURES carries 8 words (256 bits) per index; the ST firmware supports index 0 only. */
const R0_FEATURE_WORDS = 8;

function r0Dialect(x: Exchange): Dialect {
  const dialect: Dialect = {
    revision: 'r0',
    configChunk: 0,
    hasBusMessages: false,
    async getDeviceInfo(devNum) {
      return map(await call(x, 'DEVICE_INFO', devNum, {}), (f) => ({
        deviceId: num(f, 'device_id'),
        vendorId: num(f, 'vendor_id'),
        featureBits: 32 * R0_FEATURE_WORDS,
        configSize: null,
        maxVirtqueues: null,
      }));
    },
    async getFeatures(devNum) {
      return map(await call(x, 'GET_FEATURES', devNum, { index: 0 }), (f) => wordsToFeatures(words(f, 'features')));
    },
    async setFeatures(devNum, _featureBits, features) {
      return map(await call(x, 'SET_FEATURES', devNum, { index: 0, features: featureWords(features, R0_FEATURE_WORDS) }), () => undefined);
    },
    async getStatus(devNum) {
      return map(await call(x, 'GET_DEVICE_STATUS', devNum, {}), (f) => num(f, 'status'));
    },
    async setStatus(devNum, status) {
      const r = await post(x, 'SET_DEVICE_STATUS', devNum, { status }, 'request');
      if (!r.ok) return r;
      return dialect.getStatus(devNum);
    },
    getConfig() {
      return Promise.resolve({ ok: false, error: 'the R0 firmware does not answer GET_CONFIG' });
    },
    async getVqueue(devNum, index) {
      return map(await call(x, 'GET_VQUEUE', devNum, { index }), (f) => ({
        index: num(f, 'index'),
        maxSize: num(f, 'max_size'),
        curSize: null,
        enabled: null,
        descAddr: 0n,
        driverAddr: 0n,
        deviceAddr: 0n,
      }));
    },
    async setVqueue(devNum, index, size, addrs) {
      const r = await call(x, 'SET_VQUEUE', devNum, {
        index,
        unused: 0,
        size,
        descriptor_addr: addrs.desc,
        driver_addr: addrs.driver,
        device_addr: addrs.device,
      });
      return map(r, () => undefined);
    },
    kick(devNum, index, nextOffset) {
      return post(x, 'EVENT_AVAIL', devNum, { vq_idx: index, next_offset: BigInt(nextOffset), next_wrap: 0n }, 'event');
    },
    getDevices() {
      return Promise.resolve({ ok: false, error: 'R0 has no GET_DEVICES: the board profile lists the devices' });
    },
    parseEvent(b) {
      const m = decode(b, 'r0', { direction: 'device-to-driver' }).msg;
      if (!m || m.kind !== 'event') return null;
      if (m.name === 'EVENT_USED') return { kind: 'used', devNum: m.devNum, queue: num(m.fields, 'vq_idx') };
      if (m.name === 'EVENT_CONFIG') return { kind: 'config', devNum: m.devNum, status: num(m.fields, 'status'), generation: null };
      return null;
    },
  };
  return dialect;
}

export function createDialect(
  port: DriverPort,
  revision: Revision,
  opts: { timeoutMs: number; maxMessageSize: number; onFinding?: (text: string) => void },
): Dialect {
  const x: Exchange = { port, revision, timeoutMs: opts.timeoutMs, maxMessageSize: opts.maxMessageSize, onFinding: opts.onFinding ?? (() => undefined) };
  return revision === 'r0' ? r0Dialect(x) : modernDialect(x);
}
