/** What every runtime-validated input shares: naming the field and showing what was seen. */

/** A seen value, short enough for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** The value at a validation issue's path, or undefined. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** A path as people write it: `bus.format`, `regions[1].size`, `params.count` (with a root). */
export function fieldName(path: readonly PropertyKey[], root = ''): string {
  let s = root;
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : (s ? '.' : '') + String(k);
  return s;
}
