/**
 * `openamp-static-v1` (docs/amp-bus.md §4.3), the ST/OpenAMP STM32MP157 prototype: a 56-byte queue
 * definition (magic 0x1A2B3C4D) written by the device, one 8-byte head per side (u16 status
 * with bit 0 READY, u16 resv, u16 w_idx = producer, u16 r_idx = consumer), one element array
 * per side. Replicates the firmware's quirks:
 *
 * - stride quirk ('num_elts'): both sides place slot i at data + i·num_elts (4 bytes apart), so
 *   consecutive 40-byte messages overlap; with it on, at most one message is in flight (capacity 1);
 * - indices are u8 (the u16 fields are truncated, as the C code does);
 * - both indices of the own head are always rewritten together (one 32-bit store when aligned),
 *   so send and receive never undo each other's index;
 * - no handshake: the device writes the definition and its head (READY); the driver zeroes its
 *   own head and sets READY.
 */
import type { MemoryWindow } from '../window';
import { SubWindow } from '../window';
import type { BusRole, QueueProblem } from '../queue';
import { encodeFields, offsetsOf, overlapProblem, pollUntil, queueProblem, view, waitForHeader } from './common';
import type { AttachResult, FieldTable, HeaderSpec, Region, Timing } from './common';
import { RingQueue, type IndexCell } from './ring';
import { hexNum } from '../../util/hex';
import type { Fail, Result } from '../../util/result';

export const OA_MAGIC = 0x1a2b3c4d;
export const OA_DEF_SIZE = 56;
export const OA_READY = 0x1;

export type StrideQuirk = 'num_elts' | 'none';

/** The queue definition (docs/amp-bus.md §4.3): offset and width of each field. */
export const OA_FIELDS = {
  magic: [0, 4],
  version: [4, 4],
  driverPeerOrd: [8, 4],
  devPeerOrd: [12, 4],
  drvEltSize: [16, 2],
  drvNumElts: [18, 2],
  devEltSize: [20, 2],
  devNumElts: [22, 2],
  drvHead: [24, 8],
  drvData: [32, 8],
  devHead: [40, 8],
  devData: [48, 8],
} as const satisfies FieldTable<string>;

export const OA_FIELD = offsetsOf(OA_FIELDS);

const HEAD = { status: 0, resv: 2, wIdx: 4, rIdx: 6 } as const;

export interface OpenAmpQueueDef {
  drvEltSize: number;
  drvNumElts: number;
  devEltSize: number;
  devNumElts: number;
  drvHead: number;
  drvData: number;
  devHead: number;
  devData: number;
}

export interface OpenAmpGeometry {
  /** Where the definition starts in the bus window (offsets in it are relative to it). */
  defOffset: number;
  strideQuirk: StrideQuirk;
  /** What a device writes: elements per direction and element size (demo: 4 × 40). */
  numElts: number;
  eltSize: number;
}

export const OA_DEFAULTS: OpenAmpGeometry = { defOffset: 0, strideQuirk: 'num_elts', numElts: 4, eltSize: 40 };

const align8 = (n: number): number => (n + 7) & ~7;

/** Distance between slots: the element size, or num_elts with the firmware's stride bug. */
export function oaStride(eltSize: number, numElts: number, quirk: StrideQuirk): number {
  return quirk === 'num_elts' ? numElts : eltSize;
}

/** Bytes a slot array really spans: the last slot's start plus one element. */
function dataExtent(eltSize: number, numElts: number, quirk: StrideQuirk): number {
  return (numElts - 1) * oaStride(eltSize, numElts, quirk) + eltSize;
}

/** The definition the OpenAMP device init builds (device queue first, `ALIGN_64` that aligns to 8). */
export function openAmpDef(numElts: number, eltSize: number): OpenAmpQueueDef {
  const devHead = OA_DEF_SIZE;
  const devData = devHead + 8;
  const drvHead = align8(devData + eltSize * numElts);
  return { drvEltSize: eltSize, drvNumElts: numElts, devEltSize: eltSize, devNumElts: numElts, drvHead, drvData: drvHead + 8, devHead, devData };
}

export function openAmpAreaSize(def: OpenAmpQueueDef): number {
  return align8(def.drvData + def.drvEltSize * def.drvNumElts);
}

export function encodeOpenAmpDef(def: OpenAmpQueueDef, magic = OA_MAGIC): Uint8Array {
  return encodeFields(OA_DEF_SIZE, OA_FIELDS, { ...def, magic, version: 1 });
}

/** Checks a queue definition read from memory against an area of `areaSize` bytes. */
export function validateOpenAmpDef(bytes: Uint8Array, areaSize: number, quirk: StrideQuirk): Result<OpenAmpQueueDef, QueueProblem> {
  const fail = (code: QueueProblem['code'], field: number, reason: string): Fail<QueueProblem> => ({
    ok: false,
    error: queueProblem(code, field, reason),
  });
  if (bytes.length < OA_DEF_SIZE || areaSize < OA_DEF_SIZE) return fail('layout', 0, `area of ${Math.min(bytes.length, areaSize)} bytes is smaller than the ${OA_DEF_SIZE}-byte queue definition`);
  const v = view(bytes);
  const f = OA_FIELD;
  const magic = v.getUint32(f.magic, true);
  if (magic !== OA_MAGIC) return fail('layout-not-ready', f.magic, `queue definition magic ${hexNum(magic, 8)}, expected ${hexNum(OA_MAGIC, 8)}: not written yet`);
  const version = v.getUint32(f.version, true);
  if (version !== 1) return fail('layout', f.version, `queue definition version ${version}, expected 1`);
  const def: OpenAmpQueueDef = {
    drvEltSize: v.getUint16(f.drvEltSize, true),
    drvNumElts: v.getUint16(f.drvNumElts, true),
    devEltSize: v.getUint16(f.devEltSize, true),
    devNumElts: v.getUint16(f.devNumElts, true),
    drvHead: 0,
    drvData: 0,
    devHead: 0,
    devData: 0,
  };
  for (const [field, name, value] of [
    [f.drvEltSize, 'drv_elt_size', def.drvEltSize],
    [f.devEltSize, 'dev_elt_size', def.devEltSize],
  ] as const) {
    if (value === 0) return fail('layout', field, `${name} is 0, must be > 0`);
  }
  for (const [field, name, value] of [
    [f.drvNumElts, 'drv_num_elts', def.drvNumElts],
    [f.devNumElts, 'dev_num_elts', def.devNumElts],
  ] as const) {
    if (value < 2 || value > 0xff) return fail('layout', field, `${name} ${value}, expected 2..255 (one slot stays empty; indices are u8)`);
  }
  const placed: Region[] = [{ name: 'queue definition', offset: 0, size: OA_DEF_SIZE, field: -1 }];
  const spans: [keyof OpenAmpQueueDef, number, string, number, number][] = [
    ['devData', f.devData, 'device elements', dataExtent(def.devEltSize, def.devNumElts, quirk), 1],
    ['drvData', f.drvData, 'driver elements', dataExtent(def.drvEltSize, def.drvNumElts, quirk), 1],
    ['devHead', f.devHead, 'device head', 8, 4],
    ['drvHead', f.drvHead, 'driver head', 8, 4],
  ];
  for (const [key, field, name, size, align] of spans) {
    const at = v.getBigUint64(field, true);
    if (at % BigInt(align) !== 0n || at + BigInt(size) > BigInt(areaSize)) {
      return fail('layout', field, `${name} [${hexNum(at, 4)}, ${hexNum(at + BigInt(size), 4)}) must be ${align}-byte aligned and inside the ${areaSize}-byte area`);
    }
    def[key] = Number(at);
    placed.push({ name, offset: Number(at), size, field });
  }
  const overlap = overlapProblem(placed);
  return overlap ? { ok: false, error: overlap } : { ok: true, value: def };
}

/** What a driver (or a monitor) polls for and validates before it uses the queue definition. */
export function openAmpHeaderSpec(areaSize: number, quirk: StrideQuirk): HeaderSpec<OpenAmpQueueDef> {
  return {
    name: 'queue definition magic',
    width: 32,
    magic: OA_MAGIC,
    size: OA_DEF_SIZE,
    validate: (bytes) => validateOpenAmpDef(bytes, areaSize, quirk),
    describe: (d) => `driver ${d.drvNumElts} × ${d.drvEltSize} B at ${hexNum(d.drvData, 4)}, device ${d.devNumElts} × ${d.devEltSize} B at ${hexNum(d.devData, 4)}, stride quirk ${quirk}`,
  };
}

/** The part of the bus window the definition's offsets are relative to. */
export function openAmpArea(busWindow: MemoryWindow, defOffset: number): Result<MemoryWindow, QueueProblem> {
  if (!Number.isSafeInteger(defOffset) || defOffset < 0 || defOffset % 8 !== 0 || defOffset + OA_DEF_SIZE > busWindow.size) {
    return { ok: false, error: queueProblem('layout', 0, `defOffset ${defOffset} must be 8-byte aligned and leave room for the ${OA_DEF_SIZE}-byte definition in the ${busWindow.size}-byte window`) };
  }
  return { ok: true, value: defOffset === 0 ? busWindow : new SubWindow(busWindow, defOffset, busWindow.size - defOffset) };
}

/** Writes a head: indices first, then the status word (READY) — the whole 8 bytes. */
async function writeHead(window: MemoryWindow, head: number, status: number): Promise<void> {
  await window.store(head + HEAD.wIdx, 32, 0);
  await window.store(head + HEAD.status, 32, status);
}

/** Device side, like `amp_static_queue_dev_init`: definition, zeroed elements, READY head, magic last. */
export async function createOpenAmpLayout(window: MemoryWindow, g: OpenAmpGeometry): Promise<Result<OpenAmpQueueDef, QueueProblem>> {
  const def = openAmpDef(g.numElts, g.eltSize);
  const need = openAmpAreaSize(def);
  if (g.numElts < 2 || g.numElts > 0xff || g.eltSize < 1 || g.eltSize > 0xffff || need > window.size) {
    return { ok: false, error: queueProblem('layout', 0, `${g.numElts} elements of ${g.eltSize} bytes per direction need ${need} bytes (2..255 elements), the area has ${window.size}`) };
  }
  await window.write(0, encodeOpenAmpDef(def, 0));
  await window.write(def.devData, new Uint8Array(def.devEltSize * def.devNumElts));
  await writeHead(window, def.devHead, OA_READY);
  await window.store(OA_FIELD.magic, 32, OA_MAGIC);
  return { ok: true, value: def };
}

export async function attachOpenAmp(
  role: BusRole,
  busWindow: MemoryWindow,
  g: OpenAmpGeometry,
  t: Timing,
  tolerateStuckPeer: boolean,
  rearming: boolean,
): Promise<AttachResult> {
  const base = g.defOffset;
  const area = openAmpArea(busWindow, base);
  if (!area.ok) return area;
  const window = area.value;
  let def: OpenAmpQueueDef;
  if (role === 'device') {
    const created = await createOpenAmpLayout(window, g);
    if (!created.ok) return created;
    def = created.value;
    t.stage('layout-written', `queue definition at ${hexNum(base, 4)}: ${g.numElts} × ${g.eltSize} B per direction, device head READY`);
  } else {
    const found = await waitForHeader(window, t, openAmpHeaderSpec(window.size, g.strideQuirk), base);
    if (!found.ok) return { ok: false, error: { ...found.error, offset: found.error.offset + base } };
    def = found.value;
    await window.write(def.drvData, new Uint8Array(dataExtent(def.drvEltSize, def.drvNumElts, g.strideQuirk)));
    await writeHead(window, def.drvHead, OA_READY);
  }
  const own = role === 'driver' ? def.drvHead : def.devHead;
  const peer = role === 'driver' ? def.devHead : def.drvHead;
  t.stage('ready', `own head at ${hexNum(base + own, 4)}: status READY, w_idx 0, r_idx 0`);

  const findings: QueueProblem[] = [];
  let peerReady = false;
  if (role === 'driver') {
    t.stage('peer-wait', `waiting for READY in the device head at ${hexNum(base + peer, 4)}`);
    const ready = await pollUntil(t.runtime, t.peerTimeoutMs, t.pollMs, async () =>
      (await window.load(peer + HEAD.status, 16)) & OA_READY ? true : undefined,
    );
    peerReady = ready === true;
    if (!peerReady) {
      const reason = `device head at ${hexNum(base + peer, 4)} not READY after ${t.peerTimeoutMs} ms`;
      if (!tolerateStuckPeer) return { ok: false, error: queueProblem('timeout', base + peer, reason) };
      findings.push(queueProblem('timeout', base + peer, `${reason}; proceeding (tolerateStuckPeer)`));
    }
  } else if (!rearming) {
    // The firmware does not wait for its driver (the simulated board behaves the same).
    peerReady = ((await window.load(peer + HEAD.status, 16)) & OA_READY) !== 0;
  } else {
    // serve-device reads the driver's ring only once the driver's head is READY (written after its
    // indices are zeroed): a head the previous driver left (READY cleared, its indices kept)
    // would otherwise be read as new messages (docs/amp-bus.md §4.3).
    t.stage('peer-wait', `waiting for READY in the driver head at ${hexNum(base + peer, 4)}`);
    const ready = await pollUntil(t.runtime, t.peerTimeoutMs, t.pollMs, async () => ((await window.load(peer + HEAD.status, 16)) & OA_READY ? true : undefined));
    if (ready !== true) return { ok: false, error: queueProblem('timeout', base + peer, `driver head at ${hexNum(base + peer, 4)} not READY after ${t.peerTimeoutMs} ms`) };
    peerReady = true;
  }
  t.stage('run', role === 'driver' ? 'no handshake beyond READY in this format; queue in use' : rearming ? 'driver head READY; queue in use' : 'definition and device head written; the driver attaches without a handshake');
  return { ok: true, value: openAmpQueue(role, window, base, def, g.strideQuirk, peerReady), findings };
}

function openAmpQueue(role: BusRole, window: MemoryWindow, base: number, def: OpenAmpQueueDef, quirk: StrideQuirk, peerWasReady: boolean): RingQueue {
  const cell = (offset: number): IndexCell => ({ offset, width: 16 });
  const drv = { head: def.drvHead, data: def.drvData, slots: def.drvNumElts, size: def.drvEltSize };
  const dev = { head: def.devHead, data: def.devData, slots: def.devNumElts, size: def.devEltSize };
  const [own, peer] = role === 'driver' ? [drv, dev] : [dev, drv];
  const array = (q: typeof drv): { offset: number; slots: number; slotSize: number; stride: number } => ({
    offset: q.data,
    slots: q.slots,
    slotSize: q.size,
    stride: oaStride(q.size, q.slots, quirk),
  });
  let peerUp = peerWasReady;
  const readyName = (status: number): string => (status & OA_READY ? 'READY' : `not ready (${hexNum(status, 4)})`);
  return new RingQueue({
    format: 'openamp-static-v1',
    role,
    window,
    problemBase: base,
    maxInFlight: quirk === 'num_elts' ? 1 : own.slots - 1,
    tx: array(own),
    rx: array(peer),
    peerProducer: cell(peer.head + HEAD.wIdx),
    peerConsumer: cell(peer.head + HEAD.rIdx),
    indexMask: 0xff,
    policy: 'reject',
    // The firmware rewrites its whole head on every send and receive; both indices go out together.
    publish: (_which, producer, consumer) => window.store(own.head + HEAD.wIdx, 32, (producer | (consumer << 16)) >>> 0),
    checkPeer: async () => {
      const status = await window.load(peer.head + HEAD.status, 16);
      if (status & OA_READY) {
        peerUp = true;
        return null;
      }
      // Clearing READY is how a side stops (a re-init rewrites the head with READY set): its indices stay.
      if (!peerUp) return null;
      const problem = queueProblem('peer-state', base + peer.head + HEAD.status, `peer head status ${hexNum(status, 4)}: READY (bit 0) cleared; re-attach when the peer is back`);
      return { problem, indicesKept: true };
    },
    shutdown: () => window.store(own.head + HEAD.status, 16, 0),
    ...(role === 'device' ? { withdraw: () => window.store(OA_FIELD.magic, 32, 0) } : {}),
    cells: {
      d2dProducer: cell(drv.head + HEAD.wIdx),
      d2dConsumer: cell(dev.head + HEAD.rIdx),
      dev2drvProducer: cell(dev.head + HEAD.wIdx),
      dev2drvConsumer: cell(drv.head + HEAD.rIdx),
    },
    statusNames: async () => {
      const [o, p] = await Promise.all([window.load(own.head + HEAD.status, 16), window.load(peer.head + HEAD.status, 16)]);
      return { own: readyName(o), peer: readyName(p) };
    },
  });
}
