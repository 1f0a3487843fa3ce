import { BytesWindow } from '../../../src/bus/window';
import type { DoorbellIn, DoorbellOut } from '../../../src/bus/link';
import type { AttachOptions, AttachStage, BusRole, MessageQueue, QueueFormat } from '../../../src/bus/queue';
import { attachQueue, type QueueGeometry } from '../../../src/bus/formats/index';
import type { Runtime } from '../../../src/util/runtime';

/**
 * A fake clock whose timers fire as soon as the event loop is otherwise idle (virtual time
 * jumps to the next deadline), so 300-second handshake timeouts run in milliseconds and two
 * parties polling in one thread share one timeline. Each monoNs() read advances 1 µs, so a
 * busy-poll bounded by time ends too.
 */
export class VirtualRuntime implements Runtime {
  nowNs = 0n;
  /** When false, time stands still until `advance` (for tests that must not hit a timeout while waiting). */
  auto = true;
  private timers: { at: bigint; seq: number; fn: () => void }[] = [];
  private seq = 0;
  private kicked = false;

  monoNs(): bigint {
    this.nowNs += 1000n;
    return this.nowNs;
  }
  wallMs(): number {
    return Number(this.nowNs / 1_000_000n);
  }
  setTimer(ms: number, fn: () => void): () => void {
    const t = { at: this.nowNs + BigInt(Math.round(ms * 1e6)), seq: this.seq++, fn };
    this.timers.push(t);
    this.kick();
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
    };
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(ms, resolve));
  }
  get elapsedMs(): number {
    return Number(this.nowNs / 1_000_000n);
  }
  /** Moves time forward by `ms`, firing the timers that fall due. */
  advance(ms: number): void {
    const until = this.nowNs + BigInt(Math.round(ms * 1e6));
    for (;;) {
      this.timers.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.seq - b.seq));
      const t = this.timers[0];
      if (!t || t.at > until) break;
      this.timers.shift();
      if (t.at > this.nowNs) this.nowNs = t.at;
      t.fn();
    }
    this.nowNs = until;
  }
  private kick(): void {
    if (this.kicked || !this.auto) return;
    this.kicked = true;
    setImmediate(() => this.fire());
  }
  private fire(): void {
    this.kicked = false;
    if (this.timers.length === 0 || !this.auto) return;
    this.timers.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.seq - b.seq));
    const t = this.timers.shift()!;
    if (t.at > this.nowNs) this.nowNs = t.at;
    t.fn();
    if (this.timers.length > 0) this.kick();
  }
}

/** One doorbell line: ring() calls the subscribers (on a microtask) and counts. */
export class Bell implements DoorbellOut, DoorbellIn {
  rings = 0;
  private readonly listeners = new Set<() => void>();
  constructor(readonly mode: 'interrupt' | 'poll' = 'interrupt') {}
  ring(): Promise<void> {
    this.rings++;
    for (const l of this.listeners) queueMicrotask(l);
    return Promise.resolve();
  }
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}

export function bytesWindow(size: number): BytesWindow {
  return new BytesWindow(new ArrayBuffer(size));
}

/** Window sizes and geometry that fit each format in the tests. */
export const SETUPS: Record<QueueFormat, { size: number; geometry: QueueGeometry }> = {
  'spsc-v0': { size: 0x2000, geometry: {} },
  'spsc-v1': { size: 0x3000, geometry: { driverQueueOffset: 0x1000, deviceQueueOffset: 0x2000 } },
  'vmamp-shmem-v1': { size: 0x2000, geometry: {} },
  'openamp-static-v1': { size: 0x1000, geometry: { strideQuirk: 'none' } },
};

export function fastOpts(runtime: Runtime, extra: Partial<AttachOptions> = {}): AttachOptions {
  return { runtime, pollMs: 1, layoutTimeoutMs: 2000, peerTimeoutMs: 2000, ...extra };
}

/** Both sides attached concurrently over one window (device first, as boards start). */
export async function attachPair(
  format: QueueFormat,
  window = bytesWindow(SETUPS[format].size),
  geometry: QueueGeometry = SETUPS[format].geometry,
  runtime: Runtime = new VirtualRuntime(),
): Promise<{ driver: MessageQueue; device: MessageQueue; window: BytesWindow; stages: Record<BusRole, AttachStage[]> }> {
  const stages: Record<BusRole, AttachStage[]> = { driver: [], device: [] };
  const opts = (role: BusRole): AttachOptions => fastOpts(runtime, { onStage: (s) => stages[role].push(s) });
  const [device, driver] = await Promise.all([
    attachQueue(format, 'device', window, geometry, opts('device')),
    attachQueue(format, 'driver', window, geometry, opts('driver')),
  ]);
  if (!device.ok) throw new Error(`device attach: ${device.error.reason}`);
  if (!driver.ok) throw new Error(`driver attach: ${driver.error.reason}`);
  return { driver: driver.value, device: device.value, window: window as BytesWindow, stages };
}

/** A message of `len` bytes whose bytes are derived from `seed`. */
export function payload(seed: number, len: number): Uint8Array {
  const m = new Uint8Array(len);
  for (let i = 0; i < len; i++) m[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return m;
}

/** An R2/R3/R4 header (+ zero payload) built by hand: type, msg_id, dev_num, token, msg_size. */
export function r3(type: number, msgId: number, devNum: number, token: number, size = 8): Uint8Array {
  const m = new Uint8Array(size);
  const v = new DataView(m.buffer);
  m[0] = type;
  m[1] = msgId;
  v.setUint16(2, devNum, true);
  v.setUint16(4, token, true);
  v.setUint16(6, size, true);
  return m;
}

/** An R0 frame: type, id, dev_id, 36 payload bytes. */
export function r0(type: number, id: number, devId: number, fill = 0): Uint8Array {
  const m = new Uint8Array(40).fill(fill);
  m[0] = type;
  m[1] = id;
  m[2] = devId & 0xff;
  m[3] = devId >>> 8;
  return m;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
