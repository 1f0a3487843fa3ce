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
