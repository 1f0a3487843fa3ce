/**
 * Reading decoded fields by name with the type the caller needs. A field the message does not
 * carry reads as zero or empty: callers have already checked the message's name and problems.
 */
import type { FieldValue } from './types';

export type Fields = Readonly<Record<string, FieldValue>>;

export function fieldNumber(fields: Fields, name: string): number {
  const v = fields[name];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
}

export function fieldBigint(fields: Fields, name: string): bigint {
  const v = fields[name];
  return typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : 0n;
}

export function fieldBytes(fields: Fields, name: string): Uint8Array {
  const v = fields[name];
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

export function fieldWords(fields: Fields, name: string): number[] {
  const v = fields[name];
  return Array.isArray(v) ? v : [];
}
