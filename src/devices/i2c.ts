/**
 * virtio-i2c (device id 34): request format (docs/protocol.md Appendix E), driver
 * workloads, and a device model of an I2C bus with two 20-byte RAM targets (0x54, 0x56, as the
 * ST STM32MP157 demo firmware has them).
 */
import { z } from 'zod';

import type { MemoryWindow } from '../bus/window';
import { DEVICE_ID, featureBit } from '../protocol/names';
import { toHex } from '../util/hex';
import { gather, scatter, totalLength, type Chain } from '../virtio/chain';
import type { DeviceVirtqueue } from '../virtio/deviceRing';
import { hexBytesParam, workload, type DeviceDescriptor } from './descriptor';
import { BaseDeviceModel, resultOf, serveAll, type ModelOptions, type ProcessResult } from './model';
import { DEFAULT_TIMEOUT_MS, submitRequests, type QueueContext, type RequestPart } from './workload';
import { ok, type Result } from '../util/result';

export const I2C_FEATURE = { ZERO_LENGTH_REQUEST: 0 } as const;

export const VIRTIO_I2C_FLAGS_FAIL_NEXT = 1;
export const VIRTIO_I2C_FLAGS_M_RD = 2;
export const VIRTIO_I2C_MSG_OK = 0;
export const VIRTIO_I2C_MSG_ERR = 1;
export const I2C_OUT_HDR_SIZE = 8;
export const I2C_REQUESTQ = 0;

export interface I2cAddress {
  address: number;
  /** A 10-bit address; 7-bit otherwise. */
  tenBit?: boolean;
}

/** out_hdr.addr for an address: a7 << 1, or the 10-bit form (bits 15:8 A7..A0, 7:3 0b11110, 2:1 A9..A8). */
export function encodeI2cAddr(a: I2cAddress): number {
  if (a.tenBit) {
    if (!Number.isInteger(a.address) || a.address < 0 || a.address > 0x3ff) throw new RangeError(`10-bit I2C address ${a.address} out of range`);
    return ((a.address & 0xff) << 8) | 0xf0 | ((a.address >> 8) << 1);
  }
  if (!Number.isInteger(a.address) || a.address < 0 || a.address > 0x7f) throw new RangeError(`7-bit I2C address ${a.address} out of range`);
  return a.address << 1;
}

/** The address an out_hdr.addr names; null when bit 0 is set or a 7-bit form has bits 15:8 set. */
export function decodeI2cAddr(addr: number): I2cAddress | null {
  if (addr & 1) return null;
  if ((addr & 0xf8) === 0xf0) return { address: ((addr >> 1) & 3) << 8 | (addr >> 8), tenBit: true };
  if (addr > 0xff) return null;
  return { address: addr >> 1 };
}

export function i2cAddressText(a: I2cAddress): string {
  return a.tenBit ? `0x${a.address.toString(16).padStart(3, '0')} (10-bit)` : `0x${a.address.toString(16).padStart(2, '0')}`;
}

/** The 8-byte out_hdr: addr le16, padding le16 0, flags le32. */
export function encodeI2cOutHdr(addr: number, flags: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(I2C_OUT_HDR_SIZE);
  const v = new DataView(out.buffer);
  v.setUint16(0, addr, true);
  v.setUint32(4, flags, true);
  return out;
}

export function decodeI2cOutHdr(bytes: Uint8Array): { addr: number; padding: number; flags: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, I2C_OUT_HDR_SIZE);
  return { addr: v.getUint16(0, true), padding: v.getUint16(2, true), flags: v.getUint32(4, true) };
}

// ---------------------------------------------------------------------------------------------
// Driver workloads

/** One I2C segment: a write of `write` bytes or a read of `read` bytes (0 = zero-length request). */
export type I2cSegment = I2cAddress & ({ write: Uint8Array } | { read: number });

/** The descriptor chain parts of one request: out_hdr, buf (absent when zero-length), in_hdr. */
export function i2cRequestParts(segment: I2cSegment, flags: number): RequestPart[] {
  const isRead = 'read' in segment;
  const parts: RequestPart[] = [{ data: encodeI2cOutHdr(encodeI2cAddr(segment), flags | (isRead ? VIRTIO_I2C_FLAGS_M_RD : 0)) }];
  if (isRead && segment.read > 0) parts.push({ writable: segment.read });
  if (!isRead && segment.write.length > 0) parts.push({ data: segment.write });
  parts.push({ writable: 1 });
  return parts;
}

/**
 * Runs `segments` as one group (FAIL_NEXT on all but the last, as in §15.3). Returns the bytes of
 * each read segment in order. A target that does not acknowledge is a normal failed result.
 */
export async function i2cTransfer(ctx: QueueContext, segments: readonly I2cSegment[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Result<Uint8Array[]>> {
  if (segments.length === 0) return ok([]);
  const requests = segments.map((s, k) => i2cRequestParts(s, k < segments.length - 1 ? VIRTIO_I2C_FLAGS_FAIL_NEXT : 0));
  const done = await submitRequests(ctx, requests, timeoutMs);
  if (!done.ok) return done;
  const reads: Uint8Array[] = [];
  for (const [k, s] of segments.entries()) {
    const { writable } = done.value[k]!;
    const status = writable[writable.length - 1]![0]!;
    if (status === VIRTIO_I2C_MSG_ERR) return { ok: false, error: `I2C target ${i2cAddressText(s)} did not acknowledge (status VIRTIO_I2C_MSG_ERR)` };
    if (status !== VIRTIO_I2C_MSG_OK) return { ok: false, error: `I2C request to ${i2cAddressText(s)} returned status ${status}, expected VIRTIO_I2C_MSG_OK (0) or VIRTIO_I2C_MSG_ERR (1)` };
    if ('read' in s) reads.push(s.read > 0 ? writable[0]! : new Uint8Array(0));
  }
  return ok(reads);
}

export async function i2cWrite(ctx: QueueContext, addr7: number, bytes: Uint8Array, timeoutMs?: number): Promise<Result<void>> {
  const r = await i2cTransfer(ctx, [{ address: addr7, write: bytes }], timeoutMs);
  return r.ok ? ok() : r;
}

export async function i2cRead(ctx: QueueContext, addr7: number, length: number, timeoutMs?: number): Promise<Result<Uint8Array>> {
  const r = await i2cTransfer(ctx, [{ address: addr7, read: length }], timeoutMs);
  return r.ok ? ok(r.value[0]!) : r;
}

/** Register access: write `writeBytes`, then read `readLen` bytes, as one FAIL_NEXT group. */
export async function i2cWriteRead(ctx: QueueContext, addr7: number, writeBytes: Uint8Array, readLen: number, timeoutMs?: number): Promise<Result<Uint8Array>> {
  const r = await i2cTransfer(ctx, [{ address: addr7, write: writeBytes }, { address: addr7, read: readLen }], timeoutMs);
  return r.ok ? ok(r.value[0]!) : r;
}

// ---------------------------------------------------------------------------------------------
// Device model

/** A device on the I2C bus. false / null = no acknowledge. */
export interface I2cTarget {
  write(data: Uint8Array): boolean;
  read(length: number): Uint8Array | null;
}

/**
 * A small RAM (the ST demo's emulated targets): a write sets the address pointer from its first
 * byte and stores the following bytes; reads return bytes from the pointer; both auto-increment,
 * wrapping at the end.
 */
export class I2cRam implements I2cTarget {
  readonly bytes: Uint8Array;
  private pointer = 0;

  constructor(size = I2C_RAM_SIZE) {
    this.bytes = new Uint8Array(size);
  }
  write(data: Uint8Array): boolean {
    if (data.length === 0) return true;
    this.pointer = data[0]! % this.bytes.length;
    for (const b of data.subarray(1)) this.store(b);
    return true;
  }
  read(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.bytes[this.pointer]!;
      this.pointer = (this.pointer + 1) % this.bytes.length;
    }
    return out;
  }
  private store(b: number): void {
    this.bytes[this.pointer] = b;
    this.pointer = (this.pointer + 1) % this.bytes.length;
  }
}

/** The ST demo's RAM targets: 20 bytes each at 0x54 and 0x56 (the model's default targets). */
export const I2C_RAM_TARGETS = [0x54, 0x56] as const;
export const I2C_RAM_SIZE = 20;

export interface I2cModelOptions extends ModelOptions {
  /** Targets by 7-bit address; default the I2C_RAM_TARGETS. */
  targets?: ReadonlyMap<number, I2cTarget>;
}

export class I2cDeviceModel extends BaseDeviceModel {
  readonly deviceId = DEVICE_ID.I2C;
  readonly targets: ReadonlyMap<number, I2cTarget>;
  /** A request with FAIL_NEXT failed: the rest of its group fails too. */
  private failingGroup = false;

  constructor(options: I2cModelOptions = {}) {
    super({ deviceFeatures: featureBit(I2C_FEATURE.ZERO_LENGTH_REQUEST), numQueues: 1, configSize: 0 }, options);
    this.targets = options.targets ?? new Map(I2C_RAM_TARGETS.map((a) => [a, new I2cRam()]));
  }

  protected override resetDevice(): void {
    this.failingGroup = false;
  }

  protected async serve(queueIndex: number, queue: DeviceVirtqueue, memory: MemoryWindow): Promise<ProcessResult> {
    return resultOf(queueIndex, await serveAll(queue, (chain) => this.request(chain, memory)));
  }

  /** Serves one request chain; returns the bytes written (read data + status). */
  private async request(chain: Chain, memory: MemoryWindow): Promise<number> {
    const readable = await gather(memory, chain.readable);
    const writableBytes = totalLength(chain.writable);
    if (writableBytes === 0) return 0; // no in_hdr to answer in
    const hdr = readable.length >= I2C_OUT_HDR_SIZE ? decodeI2cOutHdr(readable) : null;
    const isRead = hdr !== null && (hdr.flags & VIRTIO_I2C_FLAGS_M_RD) !== 0;
    const readLen = writableBytes - 1;
    let data: Uint8Array | null = null;
    const wellFormed = hdr !== null && (isRead ? readable.length === I2C_OUT_HDR_SIZE : readLen === 0);
    if (wellFormed && !this.failingGroup) data = this.execute(hdr.addr, isRead, readable.subarray(I2C_OUT_HDR_SIZE), readLen);
    const failNext = hdr !== null && (hdr.flags & VIRTIO_I2C_FLAGS_FAIL_NEXT) !== 0;
    this.failingGroup = data === null && failNext;
    const reply = new Uint8Array(writableBytes);
    if (data) reply.set(data);
    reply[readLen] = data ? VIRTIO_I2C_MSG_OK : VIRTIO_I2C_MSG_ERR;
    await scatter(memory, chain.writable, reply);
    return writableBytes;
  }

  /** The bytes read (empty for a write) when the target acknowledged, null otherwise. */
  private execute(addr: number, isRead: boolean, writeData: Uint8Array, readLen: number): Uint8Array | null {
    const a = decodeI2cAddr(addr);
    const target = a && !a.tenBit ? this.targets.get(a.address) : undefined;
    if (!target) return null;
    if (isRead) return target.read(readLen);
    return target.write(writeData) ? new Uint8Array(0) : null;
  }
}

// ---------------------------------------------------------------------------------------------
// Descriptor

const segment = z.union([z.object({ write: hexBytesParam }).strict(), z.object({ read: z.number().int().min(1).max(4096) }).strict()], {
  error: 'expected a segment {"write": "hex bytes"} or {"read": length 1..4096}',
});

export const I2C_DEVICE = {
  id: DEVICE_ID.I2C,
  name: 'i2c',
  features: I2C_FEATURE,
  config: [],
  // VIRTIO_I2C_F_ZERO_LENGTH_REQUEST is mandatory for the driver.
  driver: { queues: ['requestq'], accepts: [I2C_FEATURE.ZERO_LENGTH_REQUEST], requires: [I2C_FEATURE.ZERO_LENGTH_REQUEST] },
  model: (options) => new I2cDeviceModel(options),
  workloads: [
    workload({
      kind: 'i2c-transfer',
      params: z
        .object({
          /** 7-bit address, or 10-bit with tenBit. */
          address: z.number().int().min(0).max(0x3ff),
          tenBit: z.boolean().optional(),
          segments: z.array(segment).min(1).max(16),
        })
        .strict(),
      // Register 0 of the first RAM target, four bytes.
      defaults: { address: I2C_RAM_TARGETS[0], segments: [{ write: '00' }, { read: 4 }] },
      run: (queueAt, { address, tenBit, segments }) => {
        const addr = tenBit ? { address, tenBit } : { address };
        return i2cTransfer(queueAt(I2C_REQUESTQ), segments.map((g): I2cSegment => ('write' in g ? { ...addr, write: g.write } : { ...addr, read: g.read })));
      },
    }),
  ],
  exercise: {
    name: 'i2c write-then-read',
    round: async (queueAt, i) => {
      const q = queueAt(I2C_REQUESTQ);
      const target = I2C_RAM_TARGETS[i % I2C_RAM_TARGETS.length]!;
      const reg = i % I2C_RAM_SIZE;
      const len = 1 + (i % 4);
      const data = Uint8Array.from({ length: len }, (_, k) => (i * 7 + k * 13) & 0xff);
      const w = await i2cWrite(q, target, Uint8Array.of(reg, ...data));
      if (!w.ok) return `write to 0x${target.toString(16)}: ${w.error}`;
      const r = await i2cWriteRead(q, target, Uint8Array.of(reg), len);
      if (!r.ok) return `write-then-read at 0x${target.toString(16)}: ${r.error}`;
      // Writes and reads wrap the RAM's address pointer alike, so the bytes come back as written.
      if (toHex(r.value) !== toHex(data)) return `0x${target.toString(16)} register ${reg}: wrote ${toHex(data)}, read back ${toHex(r.value)}`;
      return null;
    },
  },
} satisfies DeviceDescriptor;
