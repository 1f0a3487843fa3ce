/**
 * `vmamp-shmem-v1` (docs/amp-bus.md §4.2): a 64-byte self-describing layout header written by the
 * device (magic 0x4C4F last), one 8-byte queue head per side (magic 0x514F, status, tail =
 * producer, head = consumer), one element array per side. The driver validates the layout like
 * Linux, both sides run the INIT → READY → RUN handshake, and a peer index ≥ N is a protocol
 * error ('peer-index'), never used.
 */
import type { MemoryWindow } from '../window';
import type { BusRole, QueueProblem } from '../queue';
import {
  encodeFields,
  offsetsOf,
  overlapProblem,
  pollUntil,
  queueProblem,
  view,
  waitForHeader,
  type AttachResult,
  type FieldTable,
  type HeaderSpec,
  type Region,
  type Timing,
} from './common';
import { RingQueue, type IndexCell, type PeerStop } from './ring';
import { hexNum } from '../../util/hex';
import type { Fail, Result } from '../../util/result';

export const VMAMP_LAYOUT_MAGIC = 0x4c4f; // "LO"
export const VMAMP_QUEUE_MAGIC = 0x514f; // "QO"
export const VMAMP_HEADER_SIZE = 64;
export const VMAMP_VERSION = 1;
export const VMAMP_FEAT_MASKED_NOTIF = 0x1;
export const VMAMP_NUM_NOTIF_MAX = 64;
/** QEMU's element size and the fixed part it reserves before the elements (header + 2 heads). */
export const VMAMP_QEMU_SLOT = 64;
const QEMU_FIXED = 80;

export const VMAMP_STATUS = { INIT: 0, READY: 1, RUN: 2, SHUTDOWN: 3, PEER_DEAD: 4 } as const;
const STATE_MASK = 0x1f;
const STATUS_NAMES = ['INIT', 'READY', 'RUN', 'SHUTDOWN', 'PEER_DEAD'];

export function vmampStatusName(status: number): string {
  const s = status & STATE_MASK;
  return STATUS_NAMES[s] ?? `state ${s}`;
}

/** The layout header (layout table of docs/amp-bus.md §4.2): offset and width of each field. */
export const VMAMP_FIELDS = {
  magic: [0x00, 2],
  length: [0x02, 2],
  version: [0x04, 2],
  features: [0x06, 2],
  numNotif: [0x08, 1],
  numVqNotifPerDevice: [0x09, 1],
  numQueueElements: [0x0a, 2],
  sizeQueueElements: [0x0c, 2],
  reserved: [0x0e, 2],
  devNotif: [0x10, 8],
  devQueueHead: [0x18, 8],
  devQueueElements: [0x20, 8],
  drvNotif: [0x28, 8],
  drvQueueHead: [0x30, 8],
  drvQueueElements: [0x38, 8],
} as const satisfies FieldTable<string>;

export const VMAMP_FIELD = offsetsOf(VMAMP_FIELDS);

/** Queue head field offsets: tail is the producer index of its side's queue, head the consumer index of the peer's. */
export const QH = { magic: 0, status: 2, tail: 4, head: 6 } as const;

export interface VmampLayout {
  features: number;
  numNotif: number;
  numVqNotifPerDevice: number;
  /** N and S. */
  numElements: number;
  elementSize: number;
  /** Bytes of one side's notification arrays (tx, rx and with MASKED_NOTIF mask; 0 without). */
  notifSize: number;
  devNotif: number;
  devQueueHead: number;
  devQueueElements: number;
  drvNotif: number;
  drvQueueHead: number;
  drvQueueElements: number;
}

/** The layout QEMU's device writes for an area of `areaSize` bytes: N = (size − 80) / 128, S = 64. */
export function qemuVmampLayout(areaSize: number): Result<VmampLayout, QueueProblem> {
  const n = Math.floor((areaSize - QEMU_FIXED) / (2 * VMAMP_QEMU_SLOT));
  if (!Number.isSafeInteger(areaSize) || n < 2 || n > 0xffff) {
    return { ok: false, error: queueProblem('layout', 0, `a layout area of ${areaSize} bytes gives N = ${n} elements of 64 bytes; 2..65535 are needed (at least ${QEMU_FIXED + 4 * VMAMP_QEMU_SLOT} bytes)`) };
  }
  return {
    ok: true,
    value: {
      features: 0,
      numNotif: 0,
      numVqNotifPerDevice: 0,
      numElements: n,
      elementSize: VMAMP_QEMU_SLOT,
      notifSize: 0,
      devNotif: 0,
      devQueueHead: VMAMP_HEADER_SIZE,
      devQueueElements: QEMU_FIXED,
      drvNotif: 0,
      drvQueueHead: VMAMP_HEADER_SIZE + 8,
      drvQueueElements: QEMU_FIXED + n * VMAMP_QEMU_SLOT,
    },
  };
}

/** The 64 header bytes of `layout`, with the magic (or 0 to publish it separately). */
export function encodeVmampLayout(layout: VmampLayout, magic = VMAMP_LAYOUT_MAGIC): Uint8Array {
  const { numElements, elementSize, notifSize: _notifSize, ...rest } = layout;
  return encodeFields(VMAMP_HEADER_SIZE, VMAMP_FIELDS, {
    ...rest,
    magic,
    length: VMAMP_HEADER_SIZE,
    version: VMAMP_VERSION,
    numQueueElements: numElements,
    sizeQueueElements: elementSize,
  });
}

const layoutProblem = (field: number, reason: string): Fail<QueueProblem> => ({
  ok: false,
  error: queueProblem('layout', field, reason),
});

/**
 * Validates a layout header as the Linux driver does (docs/amp-bus.md §4.2, the 17 cases of §12
 * item 1): `bytes` holds at least the 64-byte header, `areaSize` is the layout area's size.
 * 'layout-not-ready' when the magic is not (yet) written, 'layout' with the offending field's
 * offset otherwise.
 */
export function validateVmampLayout(bytes: Uint8Array, areaSize: number): Result<VmampLayout, QueueProblem> {
  if (areaSize < VMAMP_HEADER_SIZE || bytes.length < VMAMP_HEADER_SIZE) {
    return layoutProblem(0, `layout area of ${Math.min(areaSize, bytes.length)} bytes is smaller than the ${VMAMP_HEADER_SIZE}-byte layout header`);
  }
  const v = view(bytes);
  const f = VMAMP_FIELD;
  const u16 = (at: number): number => v.getUint16(at, true);
  const magic = u16(f.magic);
  if (magic !== VMAMP_LAYOUT_MAGIC) {
    return { ok: false, error: queueProblem('layout-not-ready', f.magic, `layout magic ${hexNum(magic, 4)}, expected ${hexNum(VMAMP_LAYOUT_MAGIC, 4)}: the device has not published its layout yet; try again later`) };
  }
  if (u16(f.length) !== VMAMP_HEADER_SIZE) return layoutProblem(f.length, `layout length ${u16(f.length)}, expected ${VMAMP_HEADER_SIZE}`);
  if (u16(f.version) !== VMAMP_VERSION) return layoutProblem(f.version, `layout version ${u16(f.version)}, expected ${VMAMP_VERSION}`);
  const features = u16(f.features);
  if (features & ~VMAMP_FEAT_MASKED_NOTIF) {
    return layoutProblem(f.features, `unknown feature bits ${hexNum(features & ~VMAMP_FEAT_MASKED_NOTIF, 4)} (only bit 0 MASKED_NOTIF is defined)`);
  }
  if (u16(f.reserved) !== 0) return layoutProblem(f.reserved, `reserved field ${hexNum(u16(f.reserved), 4)}, must be 0`);
  const numNotif = v.getUint8(f.numNotif);
  if (numNotif > VMAMP_NUM_NOTIF_MAX) return layoutProblem(f.numNotif, `num_notif ${numNotif} exceeds ${VMAMP_NUM_NOTIF_MAX}`);
  const perDevice = v.getUint8(f.numVqNotifPerDevice);
  if (numNotif > 0 && ![1, 2, 4, 8, 16].includes(perDevice)) {
    return layoutProblem(f.numVqNotifPerDevice, `num_vq_notif_per_device ${perDevice}, expected 1, 2, 4, 8 or 16 when num_notif > 0`);
  }
  const size = u16(f.sizeQueueElements);
  if (size === 0) return layoutProblem(f.sizeQueueElements, 'size_queue_elements 0, must be > 0');
  const n = u16(f.numQueueElements);
  if (n < 2) return layoutProblem(f.numQueueElements, `num_queue_elements ${n}, at least 2 are needed (one slot stays empty)`);
  const queueBytes = n * size;
  const notifSize = numNotif === 0 ? 0 : numNotif * 8 * (features & VMAMP_FEAT_MASKED_NOTIF ? 3 : 2);

  const placed: Region[] = [{ name: 'layout header', offset: 0, size: VMAMP_HEADER_SIZE, field: -1 }];
  const place = (field: number, name: string, bytesLong: number, align: number): QueueProblem | null => {
    const at = v.getBigUint64(field, true);
    if (at === 0n) return queueProblem('layout', field, `${name} offset is 0, must be non-zero`);
    if (at % BigInt(align) !== 0n) return queueProblem('layout', field, `${name} offset ${hexNum(at, 4)} is not ${align}-byte aligned`);
    if (at + BigInt(bytesLong) > BigInt(areaSize)) {
      return queueProblem('layout', field, `${name} [${hexNum(at, 4)}, ${hexNum(at + BigInt(bytesLong), 4)}) extends beyond the ${areaSize}-byte layout area`);
    }
    placed.push({ name, offset: Number(at), size: bytesLong, field });
    return null;
  };
  const checks: [number, string, number, number][] = [
    [f.devQueueElements, 'device queue elements', queueBytes, 1],
    [f.drvQueueElements, 'driver queue elements', queueBytes, 1],
    [f.devQueueHead, 'device queue head', 8, 2],
    [f.drvQueueHead, 'driver queue head', 8, 2],
  ];
  if (numNotif > 0) {
    checks.push([f.devNotif, 'device notification area', notifSize, 8], [f.drvNotif, 'driver notification area', notifSize, 8]);
  }
  for (const [field, name, bytesLong, align] of checks) {
    const problem = place(field, name, bytesLong, align);
    if (problem) return { ok: false, error: problem };
  }
  const overlap = overlapProblem(placed);
  if (overlap) return { ok: false, error: overlap };
  const at = (field: number): number => Number(v.getBigUint64(field, true));
  return {
    ok: true,
    value: {
      features,
      numNotif,
      numVqNotifPerDevice: numNotif > 0 ? perDevice : 0,
      numElements: n,
      elementSize: size,
      notifSize,
      devNotif: numNotif > 0 ? at(f.devNotif) : 0,
      devQueueHead: at(f.devQueueHead),
      devQueueElements: at(f.devQueueElements),
      drvNotif: numNotif > 0 ? at(f.drvNotif) : 0,
      drvQueueHead: at(f.drvQueueHead),
      drvQueueElements: at(f.drvQueueElements),
    },
  };
}

/** What a driver (or a monitor) polls for and validates before it uses the layout. */
export function vmampHeaderSpec(areaSize: number): HeaderSpec<VmampLayout> {
  return {
    name: 'layout magic',
    width: 16,
    magic: VMAMP_LAYOUT_MAGIC,
    size: VMAMP_HEADER_SIZE,
    validate: (bytes) => validateVmampLayout(bytes, areaSize),
    describe: (l) =>
      `N = ${l.numElements}, S = ${l.elementSize}, heads ${hexNum(l.devQueueHead, 4)}/${hexNum(l.drvQueueHead, 4)}, elements ${hexNum(l.devQueueElements, 4)}/${hexNum(l.drvQueueElements, 4)}`,
  };
}

/**
 * Device side, like QEMU's `vmamp_shmem_dev_init`: zero the device head and elements, write
 * the header with magic 0, then publish the magic with a release store.
 */
export async function createVmampLayout(window: MemoryWindow, areaSize = window.size): Promise<Result<VmampLayout, QueueProblem>> {
  if (areaSize > window.size) {
    return layoutProblem(0, `layout area of ${areaSize} bytes does not fit the ${window.size}-byte window`);
  }
  const built = qemuVmampLayout(areaSize);
  if (!built.ok) return built;
  const layout = built.value;
  await window.write(layout.devQueueElements, new Uint8Array(layout.numElements * layout.elementSize));
  await window.write(layout.devQueueHead, new Uint8Array(8));
  await window.write(0, encodeVmampLayout(layout, 0));
  await window.store(VMAMP_FIELD.magic, 16, VMAMP_LAYOUT_MAGIC);
  return built;
}

/** One side's view: own and peer head and element offsets. */
interface Sides {
  ownHead: number;
  peerHead: number;
  ownElements: number;
  peerElements: number;
}

function sidesOf(layout: VmampLayout, role: BusRole): Sides {
  return role === 'driver'
    ? { ownHead: layout.drvQueueHead, peerHead: layout.devQueueHead, ownElements: layout.drvQueueElements, peerElements: layout.devQueueElements }
    : { ownHead: layout.devQueueHead, peerHead: layout.drvQueueHead, ownElements: layout.devQueueElements, peerElements: layout.drvQueueElements };
}

/** Reads magic and status of a queue head (one 32-bit load when aligned). */
async function readHeadState(window: MemoryWindow, head: number): Promise<{ magic: number; status: number }> {
  if (head % 4 === 0) {
    const word = await window.load(head, 32);
    return { magic: word & 0xffff, status: (word >>> 16) & STATE_MASK };
  }
  const magic = await window.load(head + QH.magic, 16);
  const status = (await window.load(head + QH.status, 16)) & STATE_MASK;
  return { magic, status };
}

type Step = 'wait-magic' | 'wait-peer' | 'shutdown' | 'run';

/**
 * The handshake of both roles as one idempotent step (QEMU's try_init; the Linux driver runs
 * the same transitions in sequence): INIT+magic, wait for the peer's magic, indices and READY,
 * wait until the peer leaves INIT, RUN. A peer status beyond RUN means SHUTDOWN.
 */
class Handshake {
  ownMagic = false;
  ownStatus: number = VMAMP_STATUS.INIT;
  start = { producer: 0, consumer: 0 };
  readonly findings: QueueProblem[] = [];
  peerStatus: number = VMAMP_STATUS.INIT;

  constructor(
    private readonly window: MemoryWindow,
    private readonly sides: Sides,
    private readonly layout: VmampLayout,
    private readonly t: Timing,
    private readonly role: BusRole,
    /** AttachOptions.rearming. */
    private readonly rearming: boolean,
  ) {}

  setStatus(status: number): Promise<void> {
    this.ownStatus = status;
    return this.window.store(this.sides.ownHead + QH.status, 16, status & STATE_MASK);
  }

  async step(): Promise<Step> {
    const { window, sides } = this;
    if (!this.ownMagic) {
      await this.setStatus(VMAMP_STATUS.INIT);
      await window.store(sides.ownHead + QH.magic, 16, VMAMP_QUEUE_MAGIC);
      this.ownMagic = true;
      this.t.stage('own-head-init', `${this.role} queue head at ${hexNum(sides.ownHead, 4)}: status INIT, magic 0x514f`);
      this.t.stage('peer-wait', `waiting for the peer queue head at ${hexNum(sides.peerHead, 4)} (magic 0x514f, then leaving INIT)`);
    }
    const peer = await readHeadState(window, sides.peerHead);
    this.peerStatus = peer.status;
    if (peer.magic !== VMAMP_QUEUE_MAGIC) return 'wait-magic';
    if (peer.status > VMAMP_STATUS.RUN) {
      // serve-device, not yet READY, meets the head its previous driver left (SHUTDOWN,
      // PEER_DEAD): the next driver sets it INIT before it looks at ours (docs/amp-bus.md §4.2,
      // driver steps 3–4), so it waits for that. QEMU's device goes SHUTDOWN, as its double must.
      return this.rearming && this.role === 'device' && this.ownStatus === VMAMP_STATUS.INIT ? 'wait-peer' : 'shutdown';
    }
    if (this.ownStatus === VMAMP_STATUS.INIT) await this.becomeReady(peer.status);
    if (peer.status === VMAMP_STATUS.INIT) return 'wait-peer';
    await this.setStatus(VMAMP_STATUS.RUN);
    return 'run';
  }

  /** Indices 0 and READY; a peer already in RUN is stale (§13 q4): start at its indices instead. */
  private async becomeReady(peerStatus: number): Promise<void> {
    const { window, sides, layout } = this;
    let producer = 0;
    let consumer = 0;
    if (peerStatus === VMAMP_STATUS.RUN) {
      const peerTail = await window.load(sides.peerHead + QH.tail, 16);
      const peerHead = await window.load(sides.peerHead + QH.head, 16);
      if (peerTail < layout.numElements && peerHead < layout.numElements && (peerTail | peerHead) !== 0) {
        producer = peerHead;
        consumer = peerTail;
        this.findings.push(
          queueProblem('peer-state', sides.peerHead, `peer queue head was already RUN with tail ${peerTail} / head ${peerHead} from an earlier session (docs/amp-bus.md §13 q4); starting at its indices instead of 0 so no stale message is read`),
        );
      }
    }
    this.start = { producer, consumer };
    await window.store(sides.ownHead + QH.tail, 16, producer);
    await window.store(sides.ownHead + QH.head, 16, consumer);
    await this.setStatus(VMAMP_STATUS.READY);
    this.t.stage('ready', `own queue head READY with tail ${producer}, head ${consumer}`);
  }
}

export interface VmampOptions {
  areaSize?: number | undefined;
  tolerateStuckPeer?: boolean | undefined;
  rearming?: boolean | undefined;
}

export async function attachVmamp(role: BusRole, window: MemoryWindow, t: Timing, opts: VmampOptions): Promise<AttachResult> {
  const areaSize = opts.areaSize ?? window.size;
  if (areaSize > window.size || areaSize < VMAMP_HEADER_SIZE) {
    return layoutProblem(0, `layout area of ${areaSize} bytes must hold the ${VMAMP_HEADER_SIZE}-byte header and fit the ${window.size}-byte window`);
  }
  let layout: VmampLayout;
  if (role === 'device') {
    const created = await createVmampLayout(window, areaSize);
    if (!created.ok) return created;
    layout = created.value;
    t.stage('layout-written', `layout header written like QEMU: N = ${layout.numElements}, S = ${layout.elementSize}, magic 0x4c4f published last`);
  } else {
    const found = await waitForHeader(window, t, vmampHeaderSpec(areaSize));
    if (!found.ok) return found;
    layout = found.value;
    await window.write(layout.drvQueueElements, new Uint8Array(layout.numElements * layout.elementSize));
    if (layout.numNotif > 0) await window.write(layout.drvNotif, new Uint8Array(layout.notifSize));
  }

  const sides = sidesOf(layout, role);
  const hs = new Handshake(window, sides, layout, t, role, opts.rearming === true);
  const outcome = await pollUntil(t.runtime, t.peerTimeoutMs, t.pollMs, async () => {
    const step = await hs.step();
    return step === 'run' || step === 'shutdown' ? step : undefined;
  });

  if (outcome === 'shutdown') {
    await hs.setStatus(VMAMP_STATUS.SHUTDOWN);
    return { ok: false, error: queueProblem('peer-state', sides.peerHead + QH.status, `peer queue head status ${vmampStatusName(hs.peerStatus)} during the handshake; own head set to SHUTDOWN`) };
  }
  if (outcome === undefined) {
    const peer = await readHeadState(window, sides.peerHead);
    const stuck = peer.magic === VMAMP_QUEUE_MAGIC && peer.status === VMAMP_STATUS.INIT;
    const detail = stuck
      ? `peer queue head at ${hexNum(sides.peerHead, 4)} still INIT after ${t.peerTimeoutMs} ms although its magic is 0x514f (QEMU stops retrying its handshake after ~100 s while messages still flow, docs/peers.md §1.2)`
      : `peer queue head at ${hexNum(sides.peerHead, 4)} has magic ${hexNum(peer.magic, 4)} after ${t.peerTimeoutMs} ms, expected 0x514f: the peer has not initialised its queue head`;
    if (!(stuck && opts.tolerateStuckPeer)) {
      await hs.setStatus(VMAMP_STATUS.SHUTDOWN);
      return { ok: false, error: queueProblem('timeout', sides.peerHead, detail) };
    }
    hs.findings.push(queueProblem('timeout', sides.peerHead + QH.status, `${detail}; proceeding (tolerateStuckPeer)`));
    await hs.setStatus(VMAMP_STATUS.RUN);
    t.stage('run', `own queue head RUN; finding: ${detail}; proceeding (tolerateStuckPeer)`);
  } else {
    t.stage('run', `own queue head RUN, peer ${vmampStatusName(hs.peerStatus)}`);
  }
  return { ok: true, value: vmampQueue(role, window, layout, sides, hs), findings: hs.findings };
}

function vmampQueue(role: BusRole, window: MemoryWindow, layout: VmampLayout, sides: Sides, hs: Handshake): RingQueue {
  const cell = (offset: number): IndexCell => ({ offset, width: 16 });
  const drv = layout.drvQueueHead;
  const dev = layout.devQueueHead;
  let peerWasUp = hs.peerStatus >= VMAMP_STATUS.READY;
  const checkPeer = async (): Promise<PeerStop | null> => {
    const peer = await readHeadState(window, sides.peerHead);
    const at = sides.peerHead;
    if (peer.magic !== VMAMP_QUEUE_MAGIC) {
      const problem = queueProblem('peer-state', at + QH.magic, `peer queue head magic ${hexNum(peer.magic, 4)}, expected 0x514f: the peer wiped or re-initialised its head; re-attach`);
      return { problem, indicesKept: false };
    }
    if (peer.status > VMAMP_STATUS.RUN) {
      const problem = queueProblem('peer-state', at + QH.status, `peer queue head status ${vmampStatusName(peer.status)}: the peer stopped; re-attach when it is back`);
      return { problem, indicesKept: true };
    }
    if (peer.status === VMAMP_STATUS.INIT && peerWasUp) {
      // A restarting peer zeroed its elements before INIT and zeroes its indices right after.
      return { problem: queueProblem('peer-state', at + QH.status, 'peer queue head dropped from RUN to INIT: the peer restarted; re-attach'), indicesKept: false };
    }
    if (peer.status >= VMAMP_STATUS.READY) peerWasUp = true;
    return null;
  };
  return new RingQueue(
    {
      format: 'vmamp-shmem-v1',
      role,
      window,
      problemBase: 0,
      maxInFlight: layout.numElements - 1,
      tx: { offset: sides.ownElements, slots: layout.numElements, slotSize: layout.elementSize, stride: layout.elementSize },
      rx: { offset: sides.peerElements, slots: layout.numElements, slotSize: layout.elementSize, stride: layout.elementSize },
      peerProducer: cell(sides.peerHead + QH.tail),
      peerConsumer: cell(sides.peerHead + QH.head),
      indexMask: 0xffff,
      policy: 'reject',
      publish: (which, producer, consumer) =>
        which === 'producer'
          ? window.store(sides.ownHead + QH.tail, 16, producer)
          : window.store(sides.ownHead + QH.head, 16, consumer),
      checkPeer,
      shutdown: () => hs.setStatus(VMAMP_STATUS.SHUTDOWN),
      ...(role === 'device' ? { withdraw: () => window.store(VMAMP_FIELD.magic, 16, 0) } : {}),
      cells: {
        d2dProducer: cell(drv + QH.tail),
        d2dConsumer: cell(dev + QH.head),
        dev2drvProducer: cell(dev + QH.tail),
        dev2drvConsumer: cell(drv + QH.head),
      },
      statusNames: async () => {
        const [own, peer] = await Promise.all([readHeadState(window, sides.ownHead), readHeadState(window, sides.peerHead)]);
        return { own: vmampStatusName(own.status), peer: vmampStatusName(peer.status) };
      },
    },
    {
      producer: hs.start.producer,
      consumer: hs.start.consumer,
      peerProducer: hs.start.consumer,
      peerConsumer: hs.start.producer,
    },
  );
}
