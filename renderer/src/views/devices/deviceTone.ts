import type { DeviceJson } from '../../../../src/api/workbench';
import { STATUS, statusNames } from '../../../../src/protocol/names';
import type { ChipTone } from '../../ui/Chip';

/** How a device phase reads at a glance: ready is good, anything broken stands out. */
export function phaseTone(phase: DeviceJson['phase']): ChipTone {
  if (phase === 'ready') return 'ok';
  if (phase === 'needs-reset' || phase === 'failed') return 'danger';
  if (phase === 'no-driver' || phase === 'removed') return 'warn';
  return 'accent';
}

/** Status bits (virtio Appendix C): the two that mean trouble are shown loudest. */
export function statusTone(name: string): ChipTone {
  if (name === 'DEVICE_NEEDS_RESET' || name === 'FAILED') return 'danger';
  if (name === 'DRIVER_OK') return 'ok';
  return 'neutral';
}

export interface StatusBit {
  name: string;
  bit: number;
  set: boolean;
}

/**
 * Every status bit the protocol defines (STATUS, Appendix C), set or not, and any set bit it does
 * not define (named by its hex value), lowest first: a glance shows what is missing as well.
 */
export function statusBits(status: number): StatusBit[] {
  const known = Object.entries(STATUS).map(([name, bit]) => ({ name, bit, set: (status & bit) !== 0 }));
  // statusNames() spells a set bit STATUS does not define as its hex value.
  const extra = statusNames(status)
    .filter((n) => !(n in STATUS))
    .map((name) => ({ name, bit: Number(name), set: true }));
  return [...known, ...extra].sort((a, b) => a.bit - b.bit);
}
