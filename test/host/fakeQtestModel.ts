/**
 * QEMU's virtio-msg-amp-pci model (vmamp-shmem-v1 FIFO 0, R3 messages) with virtio-rng devices,
 * written from the QEMU field notes and checked against the real model built from the sources
 * they name (2026-12-07, "real QEMU" below): it behaves like it byte for byte, its bugs
 * included, so that the driver is tested against the peer users will meet. Each behaviour says
 * where it comes from. It runs synchronously inside the MMIO write that rings its
 * doorbell, as QEMU's device emulation does, so the `writel` that rang is answered only after
 * the response is in the device queue.
 *
 * The model can stop the machine as QEMU does: an assert (`abort`: QEMU dies) or a spin (QEMU
 * stops answering, for good). `onHalt` is told which, and why, so tests can say the driver never
 * led the model there.
 */

import { qemuGetDevicesAnswer } from '../../src/sim/qemuGetDevices';

/** Synchronous byte access (BAR1, guest RAM). */
export interface SyncMemory {
  readSync(offset: number, length: number): Uint8Array;
  writeSync(offset: number, data: Uint8Array): void;
}

/** QEMU's assert (abort(), exit 134), a NULL dereference (SIGSEGV, exit 139), or a spin. */
export type HaltKind = 'abort' | 'segv' | 'spin';

export interface ModelOptions {
  bar1: SyncMemory;
  ram: SyncMemory;
  /** Guest-physical address of RAM byte 0 (the virtqueues' addresses are guest-physical). */
  ramBase: bigint;
  ramSize: number;
  /** AMP bus numbers (busN/virtio-msg-dev) with a virtio-rng device. */
  devices: readonly number[];
  /** QEMU aborted (the process is gone) or spins (it answers nothing from now on). */
  onHalt(kind: HaltKind, reason: string): void;
  /** A message the device put in its queue (MSI-X would fire here; qtest never sees it). */
  onSend?(): void;
  /** Requests the model drops, and why (for the fake's own log). */
  onDrop?(reason: string): void;
}

// QEMU field notes, "Layout header": FIFO 0 at BAR1+0x1000, length 64, version 1, N = 63, S = 64,
// device head 0x40, device elements 0x50, driver head 0x48, driver elements 0x1010.
export const LAYOUT_AT = 0x1000;
export const N = 63;
export const S = 64;
const DEV_HEAD = LAYOUT_AT + 0x40;
const DRV_HEAD = LAYOUT_AT + 0x48;
const DEV_ELEMENTS = LAYOUT_AT + 0x50;
const DRV_ELEMENTS = LAYOUT_AT + 0x1010;
const LAYOUT_MAGIC = 0x4c4f;
const QUEUE_MAGIC = 0x514f;
const INIT = 0;
const READY = 1;
const RUN = 2;
const SHUTDOWN = 3;
/** docs/amp-bus.md §4.2: QEMU retries its queue init from a 100 ms timer, at most 1000 times (one static for all FIFOs). */
export const INIT_TICK_MS = 100;
const INIT_RETRIES = 1000;

// QEMU field notes, GET_DEVICE_INFO / GET_DEVICE_FEATURES / GET_VQUEUE of virtio-rng.
const VIRTIO_ID_RNG = 4;
const VENDOR_QEMU = 0x554d4551;
const NUM_FEATURE_BITS = 64;
const MAX_VIRTQUEUES = 1024;
/** INDIRECT_DESC (28), EVENT_IDX (29), VERSION_1 (32), RING_RESET (40). */
const FEATURES = [0x30000000, 0x00000101];
const VQ_MAX = 1024;
/** QEMU's default queue size, reported by GET_VQUEUE before any SET_VQUEUE. */
const VQ_DEFAULT = 8;
/** virtio-rng has one queue: GET_VQUEUE past it trips `assert(vring.num)`. */
const RNG_QUEUES = 1;

/** The AMP bus has bus0..bus31 (field notes, `info qtree`); messages for dev_num 32 and above are dropped. */
const AMP_BUSES = 32;

const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const hex = (v: number, digits = 2): string => `0x${v.toString(16).padStart(digits, '0')}`;

/** A message as QEMU's handlers build one: header (type, msg_id, dev_num, token, msg_size) and payload. */
class Out {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  constructor(size: number, type: number, msgId: number, devNum: number, token: number, msgSize = size) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
    this.bytes[0] = type;
    this.bytes[1] = msgId;
    this.dv.setUint16(2, devNum, true);
    this.dv.setUint16(4, token, true);
    this.dv.setUint16(6, msgSize, true);
  }
  u16(at: number, v: number): this {
    this.dv.setUint16(at, v, true);
    return this;
  }
  u32(at: number, v: number): this {
    this.dv.setUint32(at, v, true);
    return this;
  }
  u64(at: number, v: bigint): this {
    this.dv.setBigUint64(at, v, true);
    return this;
  }
}

interface Vring {
  num: number;
  desc: bigint;
  avail: bigint;
  used: bigint;
  lastAvail: number;
  usedIdx: number;
}

interface RngDevice {
  status: number;
  driverFeatures: number[];
  vrings: Vring[];
}

const freshVring = (): Vring => ({ num: VQ_DEFAULT, desc: 0n, avail: 0n, used: 0n, lastAvail: 0, usedIdx: 0 });

export class VirtioMsgAmpPciModel {
  private readonly devices = new Map<number, RngDevice>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private retries = 0;
  private entropy = 0x2545f491;
  halted: { kind: HaltKind; reason: string } | null = null;
  /** Messages taken from the driver queue (one per doorbell at most). */
  drained = 0;
  doorbells = 0;

  constructor(private readonly o: ModelOptions) {
    for (const bus of o.devices) this.devices.set(bus, { status: 0, driverFeatures: [], vrings: Array.from({ length: RNG_QUEUES }, freshVring) });
  }

  /** The layout header without its magic (the area exists from the start, the magic comes later). */
  writeLayout(): void {
    const h = new Out(64, 0, 0, 0, 0, 0);
    // magic 0 (written last), length 64, version 1, features 0, no notification arrays.
    h.u16(0, 0).u16(2, 64).u16(4, 1).u16(6, 0).u16(10, N).u16(12, S);
    h.u64(0x18, 0x40n).u64(0x20, 0x50n).u64(0x30, 0x48n).u64(0x38, 0x1010n);
    this.o.bar1.writeSync(LAYOUT_AT, h.bytes);
  }

  /**
   * QEMU field notes, "Layout magic after connect": 0x0000 at first, 0x4C4F shortly after; then
   * the queue-init timer runs until the device head reaches RUN.
   */
  publishLayout(): void {
    this.put16(LAYOUT_AT, LAYOUT_MAGIC);
    this.timer = setInterval(() => this.tryInit(), INIT_TICK_MS);
    this.tryInit();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * docs/amp-bus.md §4.2 `vmamp_shmem_queue_try_init`: own magic, wait for the peer's, SHUTDOWN if it
   * is past RUN, indices 0 and READY, wait while it is INIT, RUN. QEMU field notes: the retry
   * counter is one static: after 1000 ticks (about 100 s) it gives up, head left where it was.
   */
  private tryInit(): void {
    if (this.retries++ >= INIT_RETRIES || this.halted) return this.stop();
    if (this.get16(DEV_HEAD) !== QUEUE_MAGIC) {
      this.put16(DEV_HEAD + 2, INIT);
      this.put16(DEV_HEAD, QUEUE_MAGIC);
    }
    if (this.get16(DRV_HEAD) !== QUEUE_MAGIC) return;
    const peer = this.get16(DRV_HEAD + 2) & 0x1f;
    if (peer > RUN) {
      this.put16(DEV_HEAD + 2, SHUTDOWN);
      return this.stop();
    }
    if ((this.get16(DEV_HEAD + 2) & 0x1f) === INIT) {
      this.put16(DEV_HEAD + 4, 0);
      this.put16(DEV_HEAD + 6, 0);
      this.put16(DEV_HEAD + 2, READY);
    }
    if (peer === INIT) return;
    this.put16(DEV_HEAD + 2, RUN);
    this.stop();
  }

  /**
   * NOTIFY[0] written. QEMU field notes, "Doorbell handling": the drain loop's test is inverted,
   * so one doorbell takes at most one message, and a doorbell on an empty queue spins for ever.
   */
  doorbell(): void {
    if (this.halted) return;
    this.doorbells++;
    const h = this.get16(DEV_HEAD + 6);
    if (h === this.get16(DRV_HEAD + 4)) return this.halt('spin', `doorbell ${this.doorbells} on an empty driver queue (head ${h}): the inverted drain loop spins`);
    // docs/amp-bus.md §4.2 receive: copy S bytes from the peer's element h, then advance the head.
    const msg = this.o.bar1.readSync(DRV_ELEMENTS + h * S, S);
    this.put16(DEV_HEAD + 6, (h + 1) % N);
    this.drained++;
    this.handle(msg);
  }

  private halt(kind: HaltKind, reason: string): void {
    this.halted = { kind, reason };
    this.stop();
    this.o.onHalt(kind, reason);
  }

  private handle(m: Uint8Array): void {
    const type = m[0]!;
    const msgId = m[1]!;
    const devNum = le16(m, 2);
    const token = le16(m, 4);
    // QEMU field notes: a response-typed message sent to the device trips an assert.
    if (type & 1) return this.halt('abort', `assertion failed: a response-typed message (type ${hex(type)}, msg_id ${hex(msgId)}) reached the device`);
    // QEMU field notes: bus messages other than GET_DEVICES fall through to the device handlers.
    if (type & 2 && msgId === 0x02) return this.getDevices(m);
    const dev = this.devices.get(devNum);
    if (!dev) return this.emptyBus(msgId, devNum, token);
    const reply = (size: number): Out => new Out(size, 0x01, msgId, devNum, token);
    switch (msgId) {
      case 0x02: // GET_DEVICE_INFO: QEMU field notes, token echoed.
        return this.send(reply(32).u32(8, VIRTIO_ID_RNG).u32(12, VENDOR_QEMU).u32(16, NUM_FEATURE_BITS).u32(20, 0).u32(24, MAX_VIRTQUEUES));
      case 0x03: {
        // GET_DEVICE_FEATURES: QEMU field notes, 0x00000101_30000000.
        const block = le32(m, 8);
        const n = le32(m, 12);
        if (16 + 4 * n > S) return this.o.onDrop?.(`GET_DEVICE_FEATURES num_blocks ${n} for dev_num ${devNum}: more than a slot, not modelled`);
        const out = reply(16 + 4 * n).u32(8, block).u32(12, n);
        for (let i = 0; i < n; i++) out.u32(16 + 4 * i, FEATURES[block + i] ?? 0);
        return this.send(out);
      }
      case 0x04: {
        const block = le32(m, 8);
        for (let i = 0; i < le32(m, 12); i++) dev.driverFeatures[block + i] = le32(m, 16 + 4 * i);
        return this.send(reply(8));
      }
      case 0x07:
        return this.send(reply(12).u32(8, dev.status));
      case 0x08: {
        // QEMU field notes: every SET_DEVICE_STATUS value is echoed. 0 resets the device.
        dev.status = le32(m, 8);
        if (dev.status === 0) {
          dev.driverFeatures = [];
          dev.vrings = Array.from({ length: RNG_QUEUES }, freshVring);
        }
        return this.send(reply(12).u32(8, dev.status));
      }
      case 0x09: {
        const index = le32(m, 8);
        // QEMU field notes: GET_VQUEUE of a queue the device does not have aborts on assert(vring.num).
        const vq = dev.vrings[index];
        if (!vq) return this.halt('abort', `assertion failed: vring.num (GET_VQUEUE index ${index} of dev_num ${devNum}, which has ${RNG_QUEUES} queue)`);
        // QEMU field notes: max 1024, cur_size 8 (the default) before any SET_VQUEUE.
        return this.send(reply(48).u32(8, index).u32(12, VQ_MAX).u32(16, vq.num).u64(24, vq.desc).u64(32, vq.avail).u64(40, vq.used));
      }
      case 0x0a: {
        const vq = dev.vrings[le32(m, 8)];
        const dv = new DataView(m.buffer, m.byteOffset, m.length);
        if (vq) Object.assign(vq, { num: le32(m, 16), desc: dv.getBigUint64(24, true), avail: dv.getBigUint64(32, true), used: dv.getBigUint64(40, true), lastAvail: 0, usedIdx: 0 });
        return this.send(reply(8));
      }
      case 0x0c:
        // QEMU field notes: GET_SHM is dropped silently.
        return this.o.onDrop?.(`GET_SHM for dev_num ${devNum}: not answered (QEMU field notes)`);
      case 0x41:
        return this.eventAvail(devNum, dev, le32(m, 8));
      default:
        // Not modelled: messages this driver never sends (GET/SET_CONFIG for an rng without
        // config, RESET_VQUEUE, and msg_id 0x42, whose handler the field notes say is off by one).
        return this.o.onDrop?.(`msg_id ${hex(msgId)} for dev_num ${devNum}: not modelled`);
    }
  }

  /**
   * A dev_num with no device (real QEMU): below 32, GET_DEVICE_INFO is answered with device_id 0
   * (QEMU logs "No virtio device on bus"), and GET_DEVICE_STATUS dereferences the missing device:
   * QEMU dies of SIGSEGV. Other requests to it, and any dev_num from 32 on, are dropped.
   */
  private emptyBus(msgId: number, devNum: number, token: number): void {
    if (devNum < AMP_BUSES && msgId === 0x02) return this.send(new Out(32, 0x01, msgId, devNum, token));
    if (devNum < AMP_BUSES && msgId === 0x07) return this.halt('segv', `segmentation fault: GET_DEVICE_STATUS for dev_num ${devNum}, which has no device`);
    return this.o.onDrop?.(`msg_id ${hex(msgId)} for dev_num ${devNum}: no device on bus${devNum}`);
  }

  /** QEMU's GET_DEVICES answer (src/sim/qemuGetDevices.ts); the slot's bytes past the 48 written are left as they were. */
  private getDevices(m: Uint8Array): void {
    const bitmap = new Uint8Array(4);
    for (const bus of this.devices.keys()) bitmap[bus >> 3]! |= 1 << (bus & 7);
    this.sendBytes(qemuGetDevicesAnswer(le16(m, 8), le16(m, 10), bitmap));
  }

  /**
   * QEMU field notes, "Data path": EVENT_AVAIL → the device fills the buffers, updates used.idx
   * (len = the bytes written, 64 for the 64-byte buffer observed), then sends EVENT_USED
   * `00 42 0000 0000 0c00 00000000` (token 0, no response bit).
   */
  private eventAvail(devNum: number, dev: RngDevice, index: number): void {
    const vq = dev.vrings[index];
    if (!vq || vq.desc === 0n) return this.o.onDrop?.(`EVENT_AVAIL for queue ${index} of dev_num ${devNum}: queue not set up`);
    const ram = (addr: bigint, len: number): number | null => {
      const off = addr - this.o.ramBase;
      return off >= 0n && off + BigInt(len) <= BigInt(this.o.ramSize) ? Number(off) : null;
    };
    const availAt = ram(vq.avail, 4 + 2 * vq.num);
    const usedAt = ram(vq.used, 4 + 8 * vq.num);
    const descAt = ram(vq.desc, 16 * vq.num);
    if (availAt === null || usedAt === null || descAt === null) return this.o.onDrop?.(`EVENT_AVAIL for queue ${index} of dev_num ${devNum}: rings outside guest RAM`);
    const availIdx = le16(this.o.ram.readSync(availAt + 2, 2), 0);
    while (vq.lastAvail !== availIdx) {
      const head = le16(this.o.ram.readSync(availAt + 4 + 2 * (vq.lastAvail % vq.num), 2), 0);
      let written = 0;
      for (let i = head, hops = 0; hops < vq.num; hops++) {
        const d = this.o.ram.readSync(descAt + 16 * i, 16);
        const dv = new DataView(d.buffer);
        const len = dv.getUint32(8, true);
        const flags = dv.getUint16(12, true);
        const buf = ram(dv.getBigUint64(0, true), len);
        if (flags & 2 && buf !== null) {
          this.o.ram.writeSync(buf, this.random(len));
          written += len;
        }
        if (!(flags & 1)) break;
        i = dv.getUint16(14, true) % vq.num;
      }
      const elem = new Out(8, 0, 0, 0, 0, 0).u32(0, head).u32(4, written).bytes;
      this.o.ram.writeSync(usedAt + 4 + 8 * (vq.usedIdx % vq.num), elem);
      vq.usedIdx = (vq.usedIdx + 1) & 0xffff;
      vq.lastAvail = (vq.lastAvail + 1) & 0xffff;
      this.o.ram.writeSync(usedAt + 2, Uint8Array.of(vq.usedIdx & 0xff, vq.usedIdx >> 8));
    }
    this.send(new Out(12, 0x00, 0x42, devNum, 0).u32(8, index));
  }

  /**
   * docs/amp-bus.md §4.2 send: `size` bytes into the own element at tail (the rest of the slot keeps
   * what was there), then the tail. A message larger than a slot fills the slot (QEMU field notes:
   * the count-272 GET_DEVICES answer is seen with msg_size 286 in a 64-byte slot).
   */
  private send(out: Out): void {
    this.sendBytes(out.bytes);
  }

  private sendBytes(bytes: Uint8Array): void {
    const t = this.get16(DEV_HEAD + 4);
    const next = (t + 1) % N;
    if (next === this.get16(DRV_HEAD + 6)) return this.o.onDrop?.(`device queue full: message ${hex(bytes[1]!)} not sent`);
    this.o.bar1.writeSync(DEV_ELEMENTS + t * S, bytes.subarray(0, Math.min(bytes.length, S)));
    this.put16(DEV_HEAD + 4, next);
    this.o.onSend?.();
  }

  private random(len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      this.entropy ^= this.entropy << 13;
      this.entropy ^= this.entropy >>> 17;
      this.entropy ^= this.entropy << 5;
      out[i] = this.entropy & 0xff;
    }
    return out;
  }

  private get16(at: number): number {
    return le16(this.o.bar1.readSync(at, 2), 0);
  }
  private put16(at: number, v: number): void {
    this.o.bar1.writeSync(at, Uint8Array.of(v & 0xff, v >> 8));
  }
}
