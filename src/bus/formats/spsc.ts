/**
 * `spsc-v0` / `spsc-v1` (docs/amp-bus.md §4.1): one 4 KiB ring per direction, the driver queue
 * (driver produces) and the device queue (device produces). In each ring `head` (producer index,
 * u32) sits at +0x00, `tail` (consumer index, u32) at +0x40, packets at +0x80; N = 62 for 4 KiB
 * and 64-byte slots. No handshake and no status words: each side zeroes the parts it writes.
 * A peer index ≥ N is reduced modulo N (v1) or replaced by 0 (v0), as the QEMU peers do, and
 * reported once as 'peer-index'.
 */
import type { MemoryWindow } from '../window';
import type { BusRole, QueueProblem } from '../queue';
import { queueProblem, type AttachResult, type Timing } from './common';
import { RingQueue, type IndexCell } from './ring';
import { hexNum } from '../../util/hex';
import type { Result } from '../../util/result';

export const SPSC_HEAD = 0x00;
export const SPSC_TAIL = 0x40;
export const SPSC_PACKETS = 0x80;

export interface SpscGeometry {
  driverQueueOffset: number;
  deviceQueueOffset: number;
  ringSize: number;
  slotSize: number;
}

/** QEMU G1/G2 defaults relative to the bus window: driver ring first, device ring 4 KiB later. */
export const SPSC_DEFAULTS: SpscGeometry = { driverQueueOffset: 0, deviceQueueOffset: 0x1000, ringSize: 0x1000, slotSize: 64 };

export interface SpscRings {
  slots: number;
  /** Ring this role produces into, and the one it consumes from. */
  own: number;
  peer: number;
}

export function spscSlots(g: SpscGeometry): number {
  return Math.floor((g.ringSize - SPSC_PACKETS) / g.slotSize);
}

export function checkSpscGeometry(window: MemoryWindow, g: SpscGeometry, role: BusRole): Result<SpscRings, QueueProblem> {
  const { driverQueueOffset: drv, deviceQueueOffset: dev, ringSize, slotSize } = g;
  const ints = [drv, dev, ringSize, slotSize].every((v) => Number.isSafeInteger(v) && v >= 0);
  if (!ints || slotSize === 0) {
    return { ok: false, error: queueProblem('layout', 0, `spsc geometry must be non-negative integers with slotSize > 0, got ${JSON.stringify(g)}`) };
  }
  const slots = spscSlots(g);
  if (slots < 2) {
    return { ok: false, error: queueProblem('layout', 0, `ring of ${ringSize} bytes holds ${Math.max(slots, 0)} slots of ${slotSize} bytes after the 0x80-byte index area; at least 2 are needed`) };
  }
  for (const [name, at] of [['driver queue', drv], ['device queue', dev]] as const) {
    if (at % 4 !== 0 || at + ringSize > window.size) {
      return { ok: false, error: queueProblem('layout', at, `${name} ring [${hexNum(at, 4)}, ${hexNum(at + ringSize, 4)}) must be 4-byte aligned and inside the ${window.size}-byte window`) };
    }
  }
  if (drv < dev + ringSize && dev < drv + ringSize) {
    return { ok: false, error: queueProblem('layout', dev, `device queue ring at ${hexNum(dev, 4)} overlaps the driver queue ring at ${hexNum(drv, 4)} (ring size ${hexNum(ringSize, 4)})`) };
  }
  return { ok: true, value: role === 'driver' ? { slots, own: drv, peer: dev } : { slots, own: dev, peer: drv } };
}

/** Zeroes what `role` writes: its own ring's head and packets, and the tail of the peer's ring. */
export async function initSpsc(window: MemoryWindow, g: SpscGeometry, role: BusRole): Promise<Result<SpscRings, QueueProblem>> {
  const rings = checkSpscGeometry(window, g, role);
  if (!rings.ok) return rings;
  const { slots, own, peer } = rings.value;
  await window.write(own + SPSC_PACKETS, new Uint8Array(slots * g.slotSize));
  await window.store(own + SPSC_HEAD, 32, 0);
  await window.store(peer + SPSC_TAIL, 32, 0);
  return rings;
}

export async function attachSpsc(
  format: 'spsc-v0' | 'spsc-v1',
  role: BusRole,
  window: MemoryWindow,
  g: SpscGeometry,
  t: Timing,
): Promise<AttachResult> {
  const rings = await initSpsc(window, g, role);
  if (!rings.ok) return rings;
  const { slots, own, peer } = rings.value;
  t.stage('own-head-init', `${format} ${role}: zeroed ${role} ring at ${hexNum(own, 4)} (${slots} slots of ${g.slotSize} B) and the consumer index of the peer ring at ${hexNum(peer, 4)}`);
  const cell = (offset: number): IndexCell => ({ offset, width: 32 });
  const drvRing = role === 'driver' ? own : peer;
  const devRing = role === 'driver' ? peer : own;
  const queue = new RingQueue({
    format,
    role,
    window,
    problemBase: 0,
    maxInFlight: slots - 1,
    tx: { offset: own + SPSC_PACKETS, slots, slotSize: g.slotSize, stride: g.slotSize },
    rx: { offset: peer + SPSC_PACKETS, slots, slotSize: g.slotSize, stride: g.slotSize },
    peerProducer: cell(peer + SPSC_HEAD),
    peerConsumer: cell(own + SPSC_TAIL),
    indexMask: 0xffffffff,
    policy: format === 'spsc-v1' ? 'modulo' : 'zero',
    publish: (which, producer, consumer) =>
      which === 'producer' ? window.store(own + SPSC_HEAD, 32, producer) : window.store(peer + SPSC_TAIL, 32, consumer),
    cells: {
      d2dProducer: cell(drvRing + SPSC_HEAD),
      d2dConsumer: cell(drvRing + SPSC_TAIL),
      dev2drvProducer: cell(devRing + SPSC_HEAD),
      dev2drvConsumer: cell(devRing + SPSC_TAIL),
    },
  });
  t.stage('run', `${format} ${role}: no handshake in this format; queue in use`);
  return { ok: true, value: queue, findings: [] };
}
