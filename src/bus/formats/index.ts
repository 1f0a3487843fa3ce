/**
 * One factory for the four queue formats (docs/amp-bus.md §4), both roles:
 *
 *   attachQueue(format, role, window, geometry, opts) → { ok, value: queue, findings } | { ok: false, error: problem }
 *
 * - spsc-v0 / spsc-v1: each side zeroes the parts it writes, then uses the rings (no handshake);
 * - vmamp-shmem-v1: the device writes the layout like QEMU and runs QEMU's try_init; the driver
 *   polls for the layout, validates it like Linux and runs the Linux handshake;
 * - openamp-static-v1: the device writes the queue definition and its READY head; the driver
 *   reads the definition, zeroes its head and sets READY.
 *
 * `createLayout` is the create/init step alone (what a device does at power-up, before any
 * handshake): the layout for vmamp/OA (device role only), the own parts for spsc (either role).
 */
import type { MemoryWindow } from '../window';
import type { AttachOptions, BusRole, QueueFormat, QueueProblem } from '../queue';
import { queueProblem, timingOf, withDefaults, type AttachResult } from './common';
import { attachOpenAmp, createOpenAmpLayout, OA_DEFAULTS, openAmpArea, type OpenAmpGeometry } from './openamp';
import { attachSpsc, initSpsc, SPSC_DEFAULTS, type SpscGeometry } from './spsc';
import { attachVmamp, createVmampLayout } from './vmamp';
import type { Result } from '../../util/result';

/** Format-specific placement (docs/amp-bus.md §11 `bus.fixed`); every field has a default. */
export interface QueueGeometry {
  /** spsc: ring offsets in the bus window, ring size and slot size (defaults 0, 0x1000, 0x1000, 64). */
  driverQueueOffset?: number;
  deviceQueueOffset?: number;
  ringSize?: number;
  slotSize?: number;
  /** vmamp: size of the layout area at offset 0 (default: the whole window; QEMU: 8 KiB). */
  areaSize?: number;
  /** OA: where the definition starts, the stride quirk (default 'num_elts', as the firmware) and what a device writes. */
  defOffset?: number;
  strideQuirk?: 'num_elts' | 'none';
  numElts?: number;
  eltSize?: number;
}

export const spscGeometry = (g: QueueGeometry): SpscGeometry => withDefaults(SPSC_DEFAULTS, g);
export const openAmpGeometry = (g: QueueGeometry): OpenAmpGeometry => withDefaults(OA_DEFAULTS, g);

export function attachQueue(
  format: QueueFormat,
  role: BusRole,
  window: MemoryWindow,
  geometry: QueueGeometry,
  opts: AttachOptions,
): Promise<AttachResult> {
  const t = timingOf(opts);
  switch (format) {
    case 'spsc-v0':
    case 'spsc-v1':
      return attachSpsc(format, role, window, spscGeometry(geometry), t);
    case 'vmamp-shmem-v1':
      return attachVmamp(role, window, t, { areaSize: geometry.areaSize, tolerateStuckPeer: opts.tolerateStuckPeer, rearming: opts.rearming });
    case 'openamp-static-v1':
      return attachOpenAmp(role, window, openAmpGeometry(geometry), t, opts.tolerateStuckPeer ?? false, opts.rearming ?? false);
  }
}

/** The create/init step alone; see the module comment. */
export async function createLayout(
  format: QueueFormat,
  role: BusRole,
  window: MemoryWindow,
  geometry: QueueGeometry = {},
): Promise<Result<null, QueueProblem>> {
  if (format === 'spsc-v0' || format === 'spsc-v1') {
    const done = await initSpsc(window, spscGeometry(geometry), role);
    return done.ok ? { ok: true, value: null } : done;
  }
  if (role !== 'device') {
    return { ok: false, error: queueProblem('layout', 0, `in ${format} the device creates the layout; the driver only attaches to it`) };
  }
  if (format === 'vmamp-shmem-v1') {
    const done = await createVmampLayout(window, geometry.areaSize ?? window.size);
    return done.ok ? { ok: true, value: null } : done;
  }
  const g = openAmpGeometry(geometry);
  const area = openAmpArea(window, g.defOffset);
  if (!area.ok) return area;
  const done = await createOpenAmpLayout(area.value, g);
  return done.ok ? { ok: true, value: null } : done;
}

export type { AttachResult } from './common';
export { validateVmampLayout, qemuVmampLayout, encodeVmampLayout, createVmampLayout, VMAMP_STATUS, VMAMP_FIELD, type VmampLayout } from './vmamp';
export { validateOpenAmpDef, openAmpDef, encodeOpenAmpDef, createOpenAmpLayout, OA_FIELD, OA_MAGIC, type OpenAmpQueueDef } from './openamp';
export { spscSlots, SPSC_DEFAULTS } from './spsc';
