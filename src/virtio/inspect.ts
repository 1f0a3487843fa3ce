import type { MemoryWindow } from '../bus/window';
import { totalLength, walkChain } from './chain';
import { translateRings, type VirtqueueAddresses } from './deviceRing';
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  availRingBytes,
  decodeDescriptor,
  descFlagNames,
  getU16,
  getU32,
  idxDistance,
  USED_ELEM_SIZE,
  USED_FLAGS,
  USED_IDX,
  USED_RING,
  usedRingBytes,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  type Translate,
} from './layout';
import { ringProblem, type RingProblem } from './problem';
import { hexNum } from '../util/hex';
import type { Result } from '../util/result';

export interface InspectParams extends VirtqueueAddresses {
  /** The rings carry used_event / avail_event (VIRTIO_F_EVENT_IDX negotiated). */
  eventIdx?: boolean;
}

export interface DescriptorView {
  index: number;
  addr: string;
  len: number;
  /** "NEXT|WRITE", "INDIRECT", "" */
  flags: string;
  next: number;
}

export interface ChainView {
  /** avail.ring slot that names the head. */
  availSlot: number;
  head: number;
  /** Descriptor indices in chain order (empty when the chain is corrupt). */
  descriptors: number[];
  readableBytes: number;
  writableBytes: number;
  /** Why the chain could not be followed (also listed in `problems`). */
  problem?: string;
}

export interface UsedView {
  slot: number;
  id: number;
  len: number;
}

/**
 * A chain the device returned lately: the used element and the chain its id names, walked over
 * the descriptor table as it is now (the driver may have reused a descriptor since, which then
 * shows its new contents). Under load a chain is in flight for microseconds, so a snapshot
 * rarely holds one: these say what the queue just carried.
 */
export interface RecentChainView extends UsedView {
  descriptors: number[];
  readableBytes: number;
  writableBytes: number;
  /** Why the chain cannot be followed now (not a ring problem: the descriptors may be reused). */
  problem?: string;
}

/** How many returned chains a snapshot describes, newest first. */
export const RECENT_CHAINS = 8;

/** A descriptor's buffer as it is in memory now (bytes capped at the caller's limit). */
export interface DescriptorBuffer {
  index: number;
  addr: string;
  len: number;
  flags: string;
  bytes: Uint8Array;
  /** `len` is more than the bytes read. */
  truncated: boolean;
}

/** A split ring as engineers know it from QEMU's virtio-queue-status, JSON-able. */
export interface RingState {
  size: number;
  descAddr: string;
  driverAddr: string;
  deviceAddr: string;
  avail: { flags: number; flagNames: string; idx: number; used_event: number | null } | null;
  used: { flags: number; flagNames: string; idx: number; avail_event: number | null } | null;
  /** The driver's last seen used.idx, as given by the caller. */
  lastSeenUsed: number | null;
  /** avail.idx − used.idx: chains the driver made available and the device has not returned. */
  inFlight: number | null;
  descriptors: DescriptorView[];
  /** Chains named by the avail ring entries [used.idx, avail.idx). */
  chains: ChainView[];
  /** Used elements [lastSeenUsed, used.idx) the driver has not collected yet. */
  usedNotSeen: UsedView[];
  /** The last RECENT_CHAINS used elements before used.idx, newest first. */
  recent: RecentChainView[];
  problems: RingProblem[];
}

/**
 * Reads a split ring without changing anything and describes it. Corrupt contents come back as
 * problems (with the data-window offset), never as exceptions.
 */
export async function inspectRing(window: MemoryWindow, translate: Translate, params: InspectParams, lastSeenUsed?: number): Promise<RingState> {
  const eventIdx = params.eventIdx ?? false;
  const { size } = params;
  const state: RingState = {
    size,
    descAddr: hexNum(params.descAddr),
    driverAddr: hexNum(params.driverAddr),
    deviceAddr: hexNum(params.deviceAddr),
    avail: null,
    used: null,
    lastSeenUsed: lastSeenUsed ?? null,
    inFlight: null,
    descriptors: [],
    chains: [],
    usedNotSeen: [],
    recent: [],
    problems: [],
  };
  const rings = translateRings(params, translate, eventIdx);
  if (!rings.ok) {
    state.problems.push(rings.error);
    return state;
  }
  const offsets = rings.value;
  const table = await window.read(offsets.desc, VIRTQ_DESC_SIZE * size);
  const avail = await window.read(offsets.avail, availRingBytes(size, eventIdx));
  const used = await window.read(offsets.used, usedRingBytes(size, eventIdx));

  const availFlags = getU16(avail, AVAIL_FLAGS);
  const availIdx = getU16(avail, AVAIL_IDX);
  const usedFlags = getU16(used, USED_FLAGS);
  const usedIdx = getU16(used, USED_IDX);
  state.avail = {
    flags: availFlags,
    flagNames: availFlags & VIRTQ_AVAIL_F_NO_INTERRUPT ? 'NO_INTERRUPT' : '',
    idx: availIdx,
    used_event: eventIdx ? getU16(avail, AVAIL_RING + 2 * size) : null,
  };
  state.used = {
    flags: usedFlags,
    flagNames: usedFlags & VIRTQ_USED_F_NO_NOTIFY ? 'NO_NOTIFY' : '',
    idx: usedIdx,
    avail_event: eventIdx ? getU16(used, USED_RING + USED_ELEM_SIZE * size) : null,
  };
  for (let i = 0; i < size; i++) {
    const d = decodeDescriptor(table, VIRTQ_DESC_SIZE * i);
    state.descriptors.push({ index: i, addr: hexNum(d.addr), len: d.len, flags: descFlagNames(d.flags), next: d.next });
  }

  const inFlight = idxDistance(usedIdx, availIdx);
  state.inFlight = inFlight;
  if (inFlight > size) {
    state.problems.push(ringProblem('avail-idx', offsets.avail + AVAIL_IDX, 'avail.idx', `at most ${size} ahead of used.idx ${usedIdx}`, `${availIdx} (+${inFlight})`));
  }
  for (let k = 0; k < Math.min(inFlight, size); k++) {
    const slot = (usedIdx + k) % size;
    const head = getU16(avail, AVAIL_RING + 2 * slot);
    const walked = await walkChain(head, size, offsets.desc, offsets.avail + AVAIL_RING + 2 * slot, (i) => decodeDescriptor(table, VIRTQ_DESC_SIZE * i), translate);
    if (walked.ok) {
      const chain = walked.value;
      state.chains.push({ availSlot: slot, head, descriptors: chain.indices, readableBytes: totalLength(chain.readable), writableBytes: totalLength(chain.writable) });
    } else {
      state.chains.push({ availSlot: slot, head, descriptors: [], readableBytes: 0, writableBytes: 0, problem: walked.error.reason });
      state.problems.push(walked.error);
    }
  }

  // used.idx counts from 0 after a reset, so fewer than RECENT_CHAINS exist early on.
  for (let k = 1; k <= Math.min(RECENT_CHAINS, size, usedIdx); k++) {
    const slot = (usedIdx - k + 0x10000) % size;
    const at = USED_RING + USED_ELEM_SIZE * slot;
    const id = getU32(used, at);
    const len = getU32(used, at + 4);
    const walked = await walkChain(id, size, offsets.desc, offsets.used + at, (i) => decodeDescriptor(table, VIRTQ_DESC_SIZE * i), translate);
    state.recent.push(
      walked.ok
        ? { slot, id, len, descriptors: walked.value.indices, readableBytes: totalLength(walked.value.readable), writableBytes: totalLength(walked.value.writable) }
        : { slot, id, len, descriptors: [], readableBytes: 0, writableBytes: 0, problem: walked.error.reason },
    );
  }

  if (lastSeenUsed !== undefined) {
    const unseen = idxDistance(lastSeenUsed & 0xffff, usedIdx);
    if (unseen > size) {
      state.problems.push(ringProblem('used-idx', offsets.used + USED_IDX, 'used.idx', `at most ${size} ahead of last seen ${lastSeenUsed}`, `${usedIdx} (+${unseen})`));
    }
    for (let k = 0; k < Math.min(unseen, size); k++) {
      const slot = (lastSeenUsed + k) % size;
      const at = USED_RING + USED_ELEM_SIZE * slot;
      state.usedNotSeen.push({ slot, id: getU32(used, at), len: getU32(used, at + 4) });
    }
  }
  return state;
}

/**
 * The buffer descriptor `index` points at, read without changing anything: at most `max` bytes.
 * An index outside the table or an address outside the data window is an error text.
 */
export async function readDescriptorBuffer(window: MemoryWindow, translate: Translate, params: InspectParams, index: number, max: number): Promise<Result<DescriptorBuffer, string>> {
  if (index >= params.size) return { ok: false, error: `descriptor ${index} is outside the table (size ${params.size}, indices 0..${params.size - 1})` };
  const rings = translateRings(params, translate, params.eventIdx ?? false);
  if (!rings.ok) return { ok: false, error: rings.error.reason };
  const d = decodeDescriptor(await window.read(rings.value.desc + VIRTQ_DESC_SIZE * index, VIRTQ_DESC_SIZE));
  const shown = Math.min(d.len, max);
  const base = { index, addr: hexNum(d.addr), len: d.len, flags: descFlagNames(d.flags), truncated: d.len > shown };
  if (shown === 0) return { ok: true, value: { ...base, bytes: new Uint8Array(0) } };
  const offset = translate(d.addr, shown);
  if (offset === null) return { ok: false, error: `descriptor ${index} points outside the data window: ${hexNum(d.addr)} + ${d.len} bytes` };
  return { ok: true, value: { ...base, bytes: await window.read(offset, shown) } };
}
