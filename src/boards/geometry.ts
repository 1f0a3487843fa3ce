/**
 * A profile's `bus.fixed` block (docs/amp-bus.md §11) as the queue geometry attachQueue takes.
 * The profile schema already checked the values are strings or numbers; here they are read
 * by name and checked for meaning, with errors that name the field.
 */
import type { BoardProfile } from '../api/boardProfile';
import type { QueueGeometry } from '../bus/formats/index';
import type { Result } from '../util/result';

const NUMERIC = ['driverQueueOffset', 'deviceQueueOffset', 'ringSize', 'slotSize', 'defOffset', 'numElts', 'eltSize'] as const;
/** Keys that describe the board but do not place the queues (kept for documentation and checks). */
const DESCRIPTIVE = new Set(['expectMagic']);

/** A bad `bus.fixed` value: the field's path and what is wrong with it. */
export interface GeometryError {
  field: string;
  message: string;
}

export function queueGeometry(profile: BoardProfile): Result<QueueGeometry, GeometryError> {
  const fixed = profile.bus.fixed ?? {};
  const g: QueueGeometry = {};
  for (const [key, raw] of Object.entries(fixed)) {
    const field = `bus.fixed.${key}`;
    if ((NUMERIC as readonly string[]).includes(key)) {
      const v = typeof raw === 'number' ? raw : /^(0x[0-9a-f]+|\d+)$/i.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(v) || v < 0) return { ok: false, error: { field, message: `expected a non-negative number, saw ${JSON.stringify(raw)}` } };
      g[key as (typeof NUMERIC)[number]] = v;
    } else if (key === 'strideQuirk') {
      if (raw !== 'num_elts' && raw !== 'none') return { ok: false, error: { field, message: `expected "num_elts" or "none", saw ${JSON.stringify(raw)}` } };
      g.strideQuirk = raw;
    } else if (!DESCRIPTIVE.has(key)) {
      return { ok: false, error: { field, message: `unknown key; expected one of ${[...NUMERIC, 'strideQuirk', ...DESCRIPTIVE].join(', ')}` } };
    }
  }
  if (profile.bus.format === 'vmamp-shmem-v1') g.areaSize = profile.bus.size;
  return { ok: true, value: g };
}
