/**
 * Small helpers shared by the four queue formats: problem values, bounded polling, an async
 * mutex and region overlap checks. Nothing here touches a window except through its interface.
 */
import type { Runtime } from '../../util/runtime';
import type { AttachOptions, AttachStage, MessageQueue, QueueProblem } from '../queue';
import { hexNum } from '../../util/hex';
import type { Fail, Ok, Result } from '../../util/result';

/** What attachQueue hands back: the queue plus what it tolerated on the way (findings), or the problem that stopped it. */
export type AttachResult = (Ok<MessageQueue> & { findings: QueueProblem[] }) | Fail<QueueProblem>;

export function queueProblem(code: QueueProblem['code'], offset: number, reason: string): QueueProblem {
  return { code, offset, reason };
}


/** Defaults of docs/amp-bus.md §11 (Linux: 300 retries of 1–2 s) with a faster poll than Linux. */
export const DEFAULT_LAYOUT_TIMEOUT_MS = 300_000;
export const DEFAULT_PEER_TIMEOUT_MS = 300_000;
export const DEFAULT_POLL_MS = 100;

export interface Timing {
  runtime: Runtime;
  layoutTimeoutMs: number;
  peerTimeoutMs: number;
  pollMs: number;
  stage: (stage: AttachStage, detail: string) => void;
}

export function timingOf(opts: AttachOptions): Timing {
  const onStage = opts.onStage;
  return {
    runtime: opts.runtime,
    layoutTimeoutMs: opts.layoutTimeoutMs ?? DEFAULT_LAYOUT_TIMEOUT_MS,
    peerTimeoutMs: opts.peerTimeoutMs ?? DEFAULT_PEER_TIMEOUT_MS,
    pollMs: Math.max(0, opts.pollMs ?? DEFAULT_POLL_MS),
    stage: (stage, detail) => {
      try {
        onStage?.(stage, detail);
      } catch {
        // A progress listener must not break a handshake.
      }
    },
  };
}

/**
 * Calls `probe` until it returns something other than undefined, sleeping `pollMs` between
 * tries, for at most `timeoutMs`. Bounded by the clock and also by the number of tries, so a
 * frozen fake clock cannot turn it into a hang. Returns undefined on timeout.
 */
export async function pollUntil<T>(
  runtime: Runtime,
  timeoutMs: number,
  pollMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const start = runtime.monoNs();
  const limitNs = BigInt(Math.max(0, Math.round(timeoutMs * 1e6)));
  const maxTries = Math.ceil(timeoutMs / Math.max(pollMs, 0.001)) + 1;
  for (let tries = 0; ; tries++) {
    const got = await probe();
    if (got !== undefined) return got;
    if (tries >= maxTries || runtime.monoNs() - start >= limitNs) return undefined;
    await runtime.sleep(pollMs);
  }
}

/** Serialises async sections: callers run one at a time in call order. */
export class Serial {
  private busy = false;
  private readonly waiters: (() => void)[] = [];

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.busy = true;
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.busy = false;
    }
  }
}

/** A named byte range of a layout, with the offset of the header field that placed it. */
export interface Region {
  name: string;
  offset: number;
  size: number;
  field: number;
}

/** The first pair of regions that share a byte, in list order, or null. */
export function findOverlap(regions: readonly Region[]): [Region, Region] | null {
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i]!;
      const b = regions[j]!;
      if (a.offset < b.offset + b.size && b.offset < a.offset + a.size) return [a, b];
    }
  }
  return null;
}

export function describeRegion(r: Region): string {
  return `${r.name} [${hexNum(r.offset, 4)}, ${hexNum(r.offset + r.size, 4)})`;
}

/** Problem for the first overlapping pair (blamed on the later field), or null. */
export function overlapProblem(regions: readonly Region[], base = 0): QueueProblem | null {
  const pair = findOverlap(regions);
  if (!pair) return null;
  const [a, b] = pair;
  const blamed = b.field >= 0 ? b : a;
  return queueProblem('layout', base + blamed.field, `${describeRegion(b)} overlaps ${describeRegion(a)}`);
}

/** Little-endian field reader over a byte copy, for layout headers. */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** What the driver polls for before it reads and validates a layout header. */
export interface HeaderSpec<T> {
  /** e.g. "layout magic" / "queue definition magic". */
  name: string;
  width: 16 | 32;
  magic: number;
  size: number;
  validate(bytes: Uint8Array): Result<T, QueueProblem>;
  describe(value: T): string;
}

/**
 * Driver side of every self-describing format: poll the magic at offset 0 (acquire load) until
 * it is published or `layoutTimeoutMs` passes, then read the header once and validate it.
 */
export async function waitForHeader<T>(
  window: { load(offset: number, width: 16 | 32): Promise<number>; read(offset: number, length: number): Promise<Uint8Array> },
  t: Timing,
  spec: HeaderSpec<T>,
  base = 0,
): Promise<Result<T, QueueProblem>> {
  const want = hexNum(spec.magic, spec.width / 4);
  t.stage('layout-wait', `polling the ${spec.name} at ${hexNum(base, 4)} for ${want} every ${t.pollMs} ms (up to ${t.layoutTimeoutMs} ms)`);
  let seen = 0;
  const header = await pollUntil(t.runtime, t.layoutTimeoutMs, t.pollMs, async () => {
    seen = (await window.load(0, spec.width)) >>> 0;
    return seen === spec.magic ? window.read(0, spec.size) : undefined;
  });
  if (!header) {
    return {
      ok: false,
      error: queueProblem('timeout', base, `${spec.name} still ${hexNum(seen, spec.width / 4)} after ${t.layoutTimeoutMs} ms, expected ${want}: the device has not published its layout`),
    };
  }
  const valid = spec.validate(header);
  if (valid.ok) t.stage('layout-valid', spec.describe(valid.value));
  return valid;
}

/** A fixed little-endian header described once: field name → [offset, width in bytes]. */
export type FieldTable<K extends string> = Readonly<Record<K, readonly [offset: number, width: 1 | 2 | 4 | 8]>>;

/** Field name → offset, for problems and tests. */
export function offsetsOf<K extends string>(table: FieldTable<K>): Readonly<Record<K, number>> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(table) as K[]) out[k] = table[k][0];
  return out;
}

/** Encodes `values` (absent fields 0) into a header of `size` bytes laid out by `table`. */
export function encodeFields<K extends string>(size: number, table: FieldTable<K>, values: Partial<Record<K, number>>): Uint8Array {
  const bytes = new Uint8Array(size);
  const v = view(bytes);
  for (const k of Object.keys(table) as K[]) {
    const [at, width] = table[k];
    const value = values[k] ?? 0;
    if (width === 1) v.setUint8(at, value);
    else if (width === 2) v.setUint16(at, value, true);
    else if (width === 4) v.setUint32(at, value, true);
    else v.setBigUint64(at, BigInt(value), true);
  }
  return bytes;
}

/** `defaults` with every field `given` defines (other fields of `given` are ignored). */
export function withDefaults<T extends object>(defaults: T, given: Partial<T>): T {
  const out = { ...defaults };
  for (const k of Object.keys(defaults) as (keyof T)[]) {
    const v = given[k];
    if (v !== undefined) out[k] = v as T[keyof T];
  }
  return out;
}
