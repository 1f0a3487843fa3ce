import type { DeviceJson } from '../../../../src/api/workbench';
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
