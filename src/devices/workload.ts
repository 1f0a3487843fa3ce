/**
 * The context a driver workload runs in (one virtqueue of a device at DRIVER_OK), and the one
 * request/response routine every workload is built on: place buffers, publish the chains,
 * notify, wait for the used entries, read the device-writable parts back, free the buffers.
 */
import type { MemoryWindow } from '../bus/window';
import { errorText } from '../util/errorText';
import { ok, type Result } from '../util/result';
import type { BufferAllocator } from '../virtio/alloc';
import type { DriverVirtqueue } from '../virtio/driverRing';

export interface QueueContext {
  queue: DriverVirtqueue;
  alloc: BufferAllocator;
  /** The data window the queue and its buffers live in. */
  window: MemoryWindow;
  /** EVENT_AVAIL for this queue (next_offset from queue.nextOffsetForNotify() with NOTIFICATION_DATA). Rejects when it cannot be sent. */
  kick(): Promise<void>;
  /** Resolves true on EVENT_USED for this queue, false once `timeoutMs` passed without one. */
  waitUsed(timeoutMs: number): Promise<boolean>;
}

export const DEFAULT_TIMEOUT_MS = 1000;

/** One buffer of a request: device-readable with `data`, or device-writable of `length` bytes. */
export type RequestPart = { data: Uint8Array } | { writable: number };

export interface Completed {
  /** used.len the device reported. */
  len: number;
  /** The bytes of each device-writable part, in order. */
  writable: Uint8Array[];
}

const partLength = (p: RequestPart): number => ('data' in p ? p.data.length : p.writable);

/**
 * Notifies the device when it asked for it (publish's `notify`), turning a transport failure
 * into a message.
 */
export async function publishAndKick(ctx: QueueContext): Promise<string | null> {
  const { notify } = await ctx.queue.publish();
  if (!notify) return null;
  try {
    await ctx.kick();
    return null;
  } catch (e) {
    return `notify (EVENT_AVAIL) failed: ${errorText(e)}`;
  }
}

/**
 * How often the used ring is read while no EVENT_USED comes: a device in polling-only mode never
 * sends one (docs/protocol.md §10.2), and an EVENT_USED the driver cannot attribute (the ST
 * firmware leaves dev_num unset) must not fail a request the device completed.
 */
export const USED_POLL_MS = 10;

/**
 * Waits until the heads in `pending` came back in the used ring — all of them, or with `until`
 * 'any' at least one — calling `onUsed` for each (and removing it from `pending`). Used entries
 * for heads the caller does not own are ignored. Fails after `timeoutMs` without progress (the
 * ring is read once more first) or on a bad used ring. With `until` 'within', a reader that
 * waits for whatever comes (a console's receiveq), `timeoutMs` without one is no failure.
 * Returns an error text or null.
 */
export async function awaitUsed(
  ctx: QueueContext,
  pending: Set<number>,
  timeoutMs: number,
  onUsed: (head: number, len: number) => Promise<void> | void,
  until: 'all' | 'any' | 'within' = 'all',
): Promise<string | null> {
  const initially = pending.size;
  let idleMs = 0;
  for (;;) {
    const { used, problems } = await ctx.queue.collectUsed();
    for (const u of used) {
      if (!pending.delete(u.id)) continue;
      await onUsed(u.id, u.len);
    }
    const retired = problems.find((p) => p.code === 'queue-retired');
    if (retired) return `request abandoned: the queue was torn down while it was in flight (${retired.seen})`;
    if (problems.length > 0) return `the device wrote a bad used ring: ${problems.map((p) => p.reason).join('; ')}`;
    if (pending.size === 0 || (until !== 'all' && pending.size < initially)) return null;
    if (used.length > 0) idleMs = 0;
    if (idleMs >= timeoutMs) {
      if (until === 'within') return null;
      const q = ctx.queue;
      return `no used entry for ${pending.size} request(s) within ${timeoutMs} ms (avail.idx ${q.availIndex}, last used.idx ${q.lastSeenUsed}); their buffers stay with the device until reset`;
    }
    const slice = Math.min(USED_POLL_MS, timeoutMs - idleMs);
    if (!(await ctx.waitUsed(slice))) idleMs += slice;
  }
}

/**
 * Submits `requests` (each a chain of parts, device-readable parts first) as one batch and
 * waits for all of them. Buffers are freed once their chain came back; on a timeout or a bad
 * used ring the buffers still with the device are left allocated (the device may write them).
 */
export async function submitRequests(ctx: QueueContext, requests: readonly RequestPart[][], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Result<Completed[]>> {
  const descriptors = requests.reduce((n, r) => n + r.length, 0);
  if (descriptors > ctx.queue.numFree) {
    return { ok: false, error: `virtqueue has ${ctx.queue.numFree} free descriptors of ${ctx.queue.size}, the request needs ${descriptors}` };
  }
  const blocks: number[] = [];
  for (const parts of requests) {
    const block = ctx.alloc.alloc(parts.reduce((n, p) => n + partLength(p), 0), 8);
    if (!block.ok) {
      for (const b of blocks) ctx.alloc.free(b);
      return { ok: false, error: block.error };
    }
    blocks.push(block.value);
  }
  const byHead = new Map<number, number>();
  for (const [k, parts] of requests.entries()) {
    let at = blocks[k]!;
    const buffers = [];
    for (const p of parts) {
      if ('data' in p) await ctx.window.write(at, p.data);
      buffers.push({ offset: at, length: partLength(p), writable: !('data' in p) });
      at += partLength(p);
    }
    const added = ctx.queue.addChain(buffers);
    if (!added.ok) throw new Error(`addChain failed after the free-descriptor check: ${added.error}`);
    byHead.set(added.value, k);
  }
  const kickError = await publishAndKick(ctx);
  if (kickError) return { ok: false, error: kickError };

  const completed: Completed[] = new Array<Completed>(requests.length);
  const error = await awaitUsed(ctx, new Set(byHead.keys()), timeoutMs, async (head, len) => {
    const k = byHead.get(head)!;
    let at = blocks[k]!;
    const writable: Uint8Array[] = [];
    for (const p of requests[k]!) {
      if (!('data' in p)) writable.push(await ctx.window.read(at, p.writable));
      at += partLength(p);
    }
    ctx.alloc.free(blocks[k]!);
    completed[k] = { len, writable };
  });
  if (error) return { ok: false, error };
  return ok(completed);
}
