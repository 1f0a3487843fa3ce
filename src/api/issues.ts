/** What every runtime-validated input shares: naming the field, what was expected and what was seen. */
import type { z } from 'zod';

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

const TYPE_NAMES: Record<string, string> = { string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false', object: 'an object', array: 'an array' };

/**
 * What a validation issue expected, in words, to be followed by ", saw …": zod's own texts
 * ("Invalid input", "Too small: expected number to be >=0, received …") do not say it plainly.
 */
export function expectedText(issue: z.core.$ZodIssue): string {
  const count = (n: number | bigint, what: string) => `${n} ${what}${n === 1 || n === 1n ? '' : 's'}`;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${count(issue.minimum, 'item')}`;
      if (issue.origin === 'string') return issue.minimum === 1 ? 'expected a non-empty string' : `expected at least ${count(issue.minimum, 'character')}`;
      return `expected ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `expected at most ${count(issue.maximum, 'item')}`;
      if (issue.origin === 'string') return `expected at most ${count(issue.maximum, 'character')}`;
      return `expected ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options)) return `expected one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
      break;
    default:
      break;
  }
  // A message of our own ("expected a BDF like …") or zod's minus its "Invalid …: " prefix.
  const m = issue.message.replace(/^[A-Z][a-z ]+: /, '').replace(/, received \w+$/, '');
  return m.startsWith('expected') ? m : `expected ${m}`;
}
