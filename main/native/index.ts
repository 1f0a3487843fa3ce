/**
 * The amp_native addon (Node-API only, so the same binary loads in Node and in Electron): mapped
 * board memory reached through copies and single aligned accesses, never as a live ArrayBuffer
 * (Electron's memory cage forbids external ones, docs/stack.md §8), interrupt waits on threads of
 * their own, eventfds and SCM_RIGHTS. Sources in src/, built by build.cjs on `npm install`.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { QueueProblem } from '../../src/bus/queue';
import { tapIndexProblem, type RingTap, type TapBatch, type TapRing } from '../../src/bus/tap';
import { errorText } from '../../src/util/errorText';
import type { Result } from '../../src/util/result';

export type NativeWidth = 8 | 16 | 32 | 64;

/**
 * The `code` of the Error every access throws once the memory behind a mapping is gone: an
 * access raised SIGBUS (a peer truncated the shared file, a device went away), which the addon
 * catches instead of dying. The message says what happened, e.g. "the shared file F shrank to
 * N bytes under the session (expected at least M): the board side truncated it".
 */
export const MAPPING_GONE = 'ERR_AMP_MAPPING_GONE';

/** Every access below also throws an Error with code MAPPING_GONE once the memory is gone. */
export interface NativeMapping {
  readonly size: number;
  /** Copy-out, bounds-checked (RangeError). */
  readInto(offset: number, target: Uint8Array): void;
  /** Copy-in, bounds-checked (RangeError). */
  write(offset: number, data: Uint8Array): void;
  /** Single aligned acquire load; 64 → bigint. Misaligned or out of range: RangeError. */
  load(offset: number, width: NativeWidth): number | bigint;
  /** Single aligned release store of an unsigned value of `width` bits. */
  store(offset: number, width: NativeWidth, value: number | bigint): void;
  /** Full barrier (__atomic_thread_fence SEQ_CST). */
  fence(): void;
  /** Idempotent (stops the mapping's ring watches first); every other call afterwards throws. */
  unmap(): void;
  /**
   * Starts a thread that polls each ring's producer index every `pollUs` while idle (at once
   * again while it moves) and copies newly published slots out; see NativeRingTap. With
   * `realtime`, the thread gets the lowest SCHED_FIFO priority where the process may.
   */
  watchRings(rings: readonly NativeRingSpec[], onEvents: (events: NativeRingEvent[]) => void, pollUs: number, realtime?: boolean): NativeRingWatch;
}

/** One ring of watchRings(), offsets in the mapping. */
export interface NativeRingSpec {
  producer: number;
  producerWidth: 8 | 16 | 32;
  slotsOffset: number;
  slots: number;
  slotSize: number;
  stride: number;
  indexMask: number;
}

/**
 * What a ring watch delivers, in order: copied slots (`lost`: published before `first` and
 * reused by the producer before the copy could be trusted; all of them published between the
 * looks at `previousLookNs` and `seenNs`; `unreadFromNs`..`unreadToNs`: TapBatch.unread), a producer index outside 0..N−1
 * (once per value; nothing is copied until it is back in range), or the memory gone (the
 * watch has ended).
 */
export type NativeRingEvent =
  | { ring: number; first: number; count: number; lost: number; seenNs: bigint; previousLookNs: bigint; unreadFromNs: bigint; unreadToNs: bigint; slots: Uint8Array }
  | { ring: number; badIndex: number }
  | { ring: number; gone: string };

export interface NativeRingWatch {
  /** Whether the thread runs at a real-time priority (asked for and allowed: CAP_SYS_NICE or root). */
  readonly realtime: boolean;
  /** Ends the thread (after a last copy and check) and delivers every event it queued, before returning. Idempotent. */
  stop(): void;
}

export interface FdWatch {
  /** Stops the watch thread and waits for it; nothing is delivered afterwards. Idempotent. */
  close(): void;
}

export interface NativeAddon {
  /**
   * mmap [offset, offset+length) of a file or device; shared, read/write unless readOnly.
   * A regular file shorter than offset+length is refused (touching past its end is SIGBUS).
   * writeCombine maps `${path}_wc` where it exists (sysfs resourceN_wc of a prefetchable BAR).
   */
  map(path: string, offset: number, length: number, opts?: { readOnly?: boolean; writeCombine?: boolean }): NativeMapping;
  /**
   * Like map() but of an already-open fd (e.g. one received over SCM_RIGHTS); the fd stays the
   * caller's. Mapped PROT_READ with readOnly (or when the fd is read-only).
   */
  mapFd(fd: number, offset: number, length: number, opts?: { readOnly?: boolean }): NativeMapping;
  /**
   * Opens `path` (e.g. /dev/uio0, or a FIFO in tests) non-blocking and on its own native thread
   * polls and reads `readSize` bytes at a time (4 for UIO: the u32 interrupt count; 8 for
   * eventfd), delivering each value through a thread-safe function without using libuv's pool.
   * onError gets a message (EOF, errno) and the watch ends. The watch keeps the process alive until closed.
   */
  watchFile(path: string, readSize: 4 | 8, onData: (value: number) => void, onError: (message: string) => void): FdWatch;
  /** Like watchFile() on an open fd, which stays the caller's. */
  watchFd(fd: number, readSize: 4 | 8, onData: (value: number) => void, onError: (message: string) => void): FdWatch;
  /** New eventfd (EFD_CLOEXEC), returns its fd. */
  eventfd(initial?: number): number;
  /** Writes a u64 to an eventfd (rings a peer). */
  eventfdWrite(fd: number, value: number): void;
  closeFd(fd: number): void;
  /** UNIX stream socket connect; returns the fd. */
  unixConnect(path: string): number;
  /** A connected pair of UNIX stream sockets (tests play both ends of an fd-passing protocol). */
  socketpair(): [number, number];
  /**
   * recvmsg with SCM_RIGHTS, waiting up to timeoutMs (poll): null on timeout, { data, fds }
   * otherwise ({ data: empty, fds: [] } means EOF, the peer closed). Received fds are CLOEXEC.
   */
  recvWithFds(fd: number, maxBytes: number, timeoutMs: number): { data: Uint8Array; fds: number[] } | null;
  /** sendmsg with SCM_RIGHTS (used by tests to play an ivshmem-server); fds need ≥ 1 data byte. */
  sendWithFds(fd: number, data: Uint8Array, fds: number[]): void;
  /**
   * ioctl(fd, request, &value) with one u32 argument, on a libuv pool thread (the call may wait
   * on answers this thread writes, as IOCTL_VMSG_LB_ADD does); rejects with the errno text.
   */
  ioctlU32(fd: number, request: number, value: number): Promise<void>;
}

export type NativeLoad = Result<NativeAddon>;

export const NATIVE_ADDON_PATH = resolve(__dirname, 'build', 'Release', 'amp_native.node');

let loaded: NativeLoad | undefined;

function load(): NativeLoad {
  if (process.platform !== 'linux') {
    return { ok: false, error: `the native addon (main/native) supports Linux only; this is ${process.platform}` };
  }
  try {
    const addon = createRequire(__filename)(NATIVE_ADDON_PATH) as NativeAddon;
    if (typeof addon.map !== 'function' || typeof addon.watchFile !== 'function') {
      return { ok: false, error: `${NATIVE_ADDON_PATH} is not the amp_native addon this build expects; rebuild it with \`node main/native/build.cjs\`` };
    }
    return { ok: true, value: addon };
  } catch (e) {
    // Node's "Cannot find module '…'" (with its require stack) says only that it was never built.
    const why =
      (e as { code?: unknown }).code === 'MODULE_NOT_FOUND' ? `${NATIVE_ADDON_PATH} was not built` : errorText(e).split('\n')[0];
    return {
      ok: false,
      error:
        `the native addon is not available (${why}); build it with \`node main/native/build.cjs\` or \`npm run install\` ` +
        '(needs a C++ compiler, make and python3)',
    };
  }
}

/** Loads the built addon once. Never throws: { ok: false, error } says why and what to try. */
export function loadNative(): NativeLoad {
  loaded ??= load();
  return loaded;
}

/**
 * How often a ring watch looks at the producer indices after a move, in µs (a look costs well
 * under 1 µs; the wake-up around it more): idle, the period grows to 5 × this.
 */
export const RING_WATCH_POLL_US = 20;

/**
 * The passive monitor's RingTap over memory the addon maps (docs/amp-bus.md §4): the addon's
 * own thread follows the producer indices and copies slots out, off the JS event loop, so the
 * JS side only receives batches. Offsets of the TapRings are taken from `base` in the mapping.
 * It reads only: nothing is written and nobody is rung.
 */
export class NativeRingTap implements RingTap {
  private watch: NativeRingWatch | null = null;

  constructor(
    private readonly mapping: NativeMapping,
    private readonly base = 0,
    private readonly opts: {
      pollUs?: number;
      /**
       * Ask for the lowest real-time priority for the watch thread (default true): a thread that
       * waits behind busy processes longer than the producer needs to lap a ring loses messages.
       * Refused without CAP_SYS_NICE; `realtime` then says false.
       */
      realtime?: boolean;
      /** The memory behind the mapping went away (the words of the failed access); the watch has ended. */
      onGone?: (message: string) => void;
    } = {},
  ) {}

  start(rings: readonly TapRing[], onBatch: (batch: TapBatch) => void, onProblem: (problem: QueueProblem) => void): void {
    if (this.watch) throw new Error('NativeRingTap.start: already started; stop() it first');
    // Looked at device→driver first: a response is then never copied in an earlier look than
    // its request (the monitor merges one look's batches in protocol order).
    const order = rings.map((_, i) => i).sort((a, b) => lookRank(rings[a]!) - lookRank(rings[b]!) || a - b);
    const specs = order.map((i) => rings[i]!).map((r) => ({
      producer: this.base + r.producer.offset,
      producerWidth: r.producer.width,
      slotsOffset: this.base + r.slots.offset,
      slots: r.slots.slots,
      slotSize: r.slots.slotSize,
      stride: r.slots.stride,
      indexMask: r.indexMask,
    }));
    this.watch = this.mapping.watchRings(
      specs,
      (events) => {
        for (const e of events) {
          const ring = order[e.ring]!;
          if ('slots' in e) {
            const { unreadFromNs, unreadToNs, ...batch } = e;
            onBatch({ ...batch, ring, unread: { fromNs: unreadFromNs, toNs: unreadToNs } });
          }
          else if ('badIndex' in e) onProblem(tapIndexProblem(rings[ring]!, e.badIndex));
          else this.opts.onGone?.(e.gone);
        }
      },
      this.opts.pollUs ?? RING_WATCH_POLL_US,
      this.opts.realtime ?? true,
    );
  }

  /** Whether the running watch got its real-time priority (false before start or when refused). */
  get realtime(): boolean {
    return this.watch?.realtime ?? false;
  }

  stop(): Promise<void> {
    this.watch?.stop();
    this.watch = null;
    return Promise.resolve();
  }
}

const lookRank = (r: TapRing): number => (r.direction === 'device-to-driver' ? 0 : 1);
