/**
 * Where a passive monitor finds the two message rings of each queue format, read from the bus
 * window without writing a byte (docs/amp-bus.md §4.6): the spsc rings at their fixed offsets, the
 * vmamp layout header the device published (polled like the driver does, never answered), the
 * OpenAMP queue definition. The ring cells are the same ones the formats' RingQueue uses
 * (`cells` of formats/ring.ts), as offsets in the bus window, so the JS polling tap and the
 * native watcher read the same places.
 *
 * Besides the rings, `states()` reads the status words a format has (vmamp heads: magic and
 * INIT/READY/RUN/SHUTDOWN/PEER_DEAD; OpenAMP heads: READY), so the monitor can record the
 * handshake it watches and tell a bus it joined already running.
 */
import type { QueueGeometry } from '../../bus/formats/index';
import { openAmpGeometry, spscGeometry } from '../../bus/formats/index';
import { timingOf, waitForHeader, type Timing } from '../../bus/formats/common';
import { checkSpscGeometry, SPSC_HEAD, SPSC_PACKETS, SPSC_TAIL } from '../../bus/formats/spsc';
import { QH, VMAMP_HEADER_SIZE, VMAMP_QUEUE_MAGIC, VMAMP_STATUS, vmampHeaderSpec, vmampStatusName } from '../../bus/formats/vmamp';
import { OA_READY, oaStride, openAmpArea, openAmpHeaderSpec } from '../../bus/formats/openamp';
import type { IndexCell } from '../../bus/formats/ring';
import type { AttachOptions, QueueFormat, QueueProblem } from '../../bus/queue';
import type { MemoryWindow } from '../../bus/window';
import type { TapRing } from '../../bus/tap';
import { hexNum } from '../../util/hex';
import type { Result } from '../../util/result';

/** The status words of both sides, as read now; null fields where the format has none. */
export interface SideStates {
  driver: string | null;
  device: string | null;
  /** Whether both sides had finished their handshake (vmamp: RUN, OpenAMP: READY) when read. */
  running: boolean;
  /**
   * A side re-initialised its head (vmamp: magic gone or back to INIT after RUN): its producer
   * index restarts at 0 and the rings must be followed afresh.
   */
  reset: boolean;
}

export interface ObservedRings {
  format: QueueFormat;
  /** [driver→device, device→driver], offsets in the bus window. */
  rings: [TapRing, TapRing];
  /** What was found, for the capture ("vmamp-shmem-v1: N = 63, S = 64, …"). */
  description: string;
  /** The status words of both heads now (spsc has none: running when asked, never reset). */
  states(): Promise<SideStates>;
}

const cell32 = (offset: number): IndexCell => ({ offset, width: 32 });
const cell16 = (offset: number): IndexCell => ({ offset, width: 16 });

/**
 * Reads the layout of `format` from `window` (the bus area). vmamp and OpenAMP wait up to
 * `opts.layoutTimeoutMs` for the device to publish its layout, polling, as their drivers do.
 */
export async function observeRings(format: QueueFormat, window: MemoryWindow, geometry: QueueGeometry, opts: AttachOptions): Promise<Result<ObservedRings, QueueProblem>> {
  const t = timingOf(opts);
  switch (format) {
    case 'spsc-v0':
    case 'spsc-v1':
      return observeSpsc(format, window, geometry);
    case 'vmamp-shmem-v1':
      return observeVmamp(window, geometry.areaSize ?? window.size, t);
    case 'openamp-static-v1':
      return observeOpenAmp(window, geometry, t);
  }
}

function observeSpsc(format: 'spsc-v0' | 'spsc-v1', window: MemoryWindow, geometry: QueueGeometry): Result<ObservedRings, QueueProblem> {
  const g = spscGeometry(geometry);
  const checked = checkSpscGeometry(window, g, 'driver');
  if (!checked.ok) return checked;
  const { slots } = checked.value;
  const ring = (direction: TapRing['direction'], at: number): TapRing => ({
    direction,
    producer: cell32(at + SPSC_HEAD),
    consumer: cell32(at + SPSC_TAIL),
    slots: { offset: at + SPSC_PACKETS, slots, slotSize: g.slotSize, stride: g.slotSize },
    indexMask: 0xffffffff,
  });
  return {
    ok: true,
    value: {
      format,
      rings: [ring('driver-to-device', g.driverQueueOffset), ring('device-to-driver', g.deviceQueueOffset)],
      description: `${format}: driver ring at ${hexNum(g.driverQueueOffset, 4)}, device ring at ${hexNum(g.deviceQueueOffset, 4)}, ${slots} slots of ${g.slotSize} B; no handshake in this format`,
      // No status words: a running bus looks like any other, so the indices tell (see Monitor).
      states: () => Promise.resolve({ driver: null, device: null, running: false, reset: false }),
    },
  };
}

async function observeVmamp(window: MemoryWindow, areaSize: number, t: Timing): Promise<Result<ObservedRings, QueueProblem>> {
  if (areaSize > window.size || areaSize < VMAMP_HEADER_SIZE) {
    return { ok: false, error: { code: 'layout', offset: 0, reason: `layout area of ${areaSize} bytes must hold the ${VMAMP_HEADER_SIZE}-byte header and fit the ${window.size}-byte window` } };
  }
  const found = await waitForHeader(window, t, vmampHeaderSpec(areaSize));
  if (!found.ok) return found;
  const l = found.value;
  const slots = (offset: number) => ({ offset, slots: l.numElements, slotSize: l.elementSize, stride: l.elementSize });
  const head = async (at: number): Promise<{ text: string; magic: boolean; status: number }> => {
    const magic = (await window.load(at + QH.magic, 16)) === VMAMP_QUEUE_MAGIC;
    const status = (await window.load(at + QH.status, 16)) & 0x1f;
    return { text: magic ? vmampStatusName(status) : 'not initialised', magic, status };
  };
  let wasRunning = false;
  return {
    ok: true,
    value: {
      format: 'vmamp-shmem-v1',
      rings: [
        // A head's tail is the producer index of its own queue, its head the consumer index of the peer's.
        { direction: 'driver-to-device', producer: cell16(l.drvQueueHead + QH.tail), consumer: cell16(l.devQueueHead + QH.head), slots: slots(l.drvQueueElements), indexMask: 0xffff },
        { direction: 'device-to-driver', producer: cell16(l.devQueueHead + QH.tail), consumer: cell16(l.drvQueueHead + QH.head), slots: slots(l.devQueueElements), indexMask: 0xffff },
      ],
      description: `vmamp-shmem-v1: N = ${l.numElements}, S = ${l.elementSize}, heads ${hexNum(l.drvQueueHead, 4)} (driver) / ${hexNum(l.devQueueHead, 4)} (device), elements ${hexNum(l.drvQueueElements, 4)} / ${hexNum(l.devQueueElements, 4)}`,
      states: async () => {
        const [drv, dev] = await Promise.all([head(l.drvQueueHead), head(l.devQueueHead)]);
        const running = drv.status === VMAMP_STATUS.RUN && dev.status === VMAMP_STATUS.RUN && drv.magic && dev.magic;
        // A side that restarts goes back to INIT (or wipes its magic) and zeroes its indices (docs/amp-bus.md §4.2).
        const reset = wasRunning && !running && (!drv.magic || !dev.magic || drv.status === VMAMP_STATUS.INIT || dev.status === VMAMP_STATUS.INIT);
        wasRunning = running || (wasRunning && !reset);
        return { driver: drv.text, device: dev.text, running, reset };
      },
    },
  };
}

async function observeOpenAmp(busWindow: MemoryWindow, geometry: QueueGeometry, t: Timing): Promise<Result<ObservedRings, QueueProblem>> {
  const g = openAmpGeometry(geometry);
  const area = openAmpArea(busWindow, g.defOffset);
  if (!area.ok) return area;
  const window = area.value;
  const found = await waitForHeader(window, t, openAmpHeaderSpec(window.size, g.strideQuirk), g.defOffset);
  if (!found.ok) return { ok: false, error: { ...found.error, offset: found.error.offset + g.defOffset } };
  const d = found.value;
  const base = g.defOffset;
  // Head fields: u16 status (bit 0 READY), u16 resv, u16 w_idx (producer), u16 r_idx (consumer).
  const ring = (direction: TapRing['direction'], own: number, peer: number, data: number, n: number, size: number): TapRing => ({
    direction,
    producer: cell16(base + own + 4),
    consumer: cell16(base + peer + 6),
    slots: { offset: base + data, slots: n, slotSize: size, stride: oaStride(size, n, g.strideQuirk) },
    indexMask: 0xff,
  });
  const ready = async (at: number): Promise<boolean> => ((await busWindow.load(base + at, 16)) & OA_READY) !== 0;
  return {
    ok: true,
    value: {
      format: 'openamp-static-v1',
      rings: [
        ring('driver-to-device', d.drvHead, d.devHead, d.drvData, d.drvNumElts, d.drvEltSize),
        ring('device-to-driver', d.devHead, d.drvHead, d.devData, d.devNumElts, d.devEltSize),
      ],
      description: `openamp-static-v1 at ${hexNum(base, 4)}: driver ${d.drvNumElts} × ${d.drvEltSize} B, device ${d.devNumElts} × ${d.devEltSize} B, stride quirk ${g.strideQuirk}`,
      states: async () => {
        const [drv, dev] = await Promise.all([ready(d.drvHead), ready(d.devHead)]);
        const name = (r: boolean) => (r ? 'READY' : 'not ready');
        return { driver: name(drv), device: name(dev), running: drv && dev, reset: false };
      },
    },
  };
}
