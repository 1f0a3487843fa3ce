/**
 * virtio-console (device id 3), port 0 only: receiveq 0 and transmitq 1, config layout
 * (Appendix D), driver workloads and an echo device model.
 */
import { z } from 'zod';

import type { MemoryWindow } from '../bus/window';
import { DEVICE_ID, featureBit } from '../protocol/names';
import { gather, scatter } from '../virtio/chain';
import type { DeviceVirtqueue } from '../virtio/deviceRing';
import type { ConfigFieldSpec } from './config';
import { workload, type DeviceDescriptor } from './descriptor';
import { atQueue, BaseDeviceModel, resultOf, serveAll, type ModelOptions, type ProcessResult, type QueueLookup, type Served } from './model';
import { awaitUsed, DEFAULT_TIMEOUT_MS, publishAndKick, submitRequests, type QueueContext } from './workload';
import { ok, type Result } from '../util/result';

export const CONSOLE_FEATURE = { SIZE: 0, MULTIPORT: 1, EMERG_WRITE: 2 } as const;
const { SIZE, MULTIPORT, EMERG_WRITE } = CONSOLE_FEATURE;
export const CONSOLE_RECEIVEQ = 0;
export const CONSOLE_TRANSMITQ = 1;

export const CONSOLE_CONFIG: readonly ConfigFieldSpec[] = [
  { name: 'cols', offset: 0, size: 2, type: 'le16', validWhen: [SIZE] },
  { name: 'rows', offset: 2, size: 2, type: 'le16', validWhen: [SIZE] },
  { name: 'max_nr_ports', offset: 4, size: 4, type: 'le32', validWhen: [MULTIPORT] },
  { name: 'emerg_wr', offset: 8, size: 4, type: 'le32', validWhen: [EMERG_WRITE] },
];
export const CONSOLE_CONFIG_SIZE = 12;

export interface ConsoleModelOptions extends ModelOptions {
  cols?: number;
  rows?: number;
}

/**
 * Echoes every byte written on transmitq into receiveq buffers, in order, using the next posted
 * receive buffer; bytes wait while none is posted.
 */
export class ConsoleDeviceModel extends BaseDeviceModel {
  readonly deviceId = DEVICE_ID.CONSOLE;
  readonly cols: number;
  readonly rows: number;
  /** Bytes received on transmitq and not yet delivered to receiveq. */
  private pending: Uint8Array = new Uint8Array(0);

  constructor(options: ConsoleModelOptions = {}) {
    super({ deviceFeatures: featureBit(SIZE), numQueues: 2, configSize: CONSOLE_CONFIG_SIZE }, options);
    this.cols = options.cols ?? 80;
    this.rows = options.rows ?? 25;
  }

  /** Echo bytes still waiting for a receive buffer. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  protected override configBytes(): Uint8Array {
    const out = new Uint8Array(CONSOLE_CONFIG_SIZE);
    const v = new DataView(out.buffer);
    v.setUint16(0, this.cols, true);
    v.setUint16(2, this.rows, true);
    v.setUint32(4, 1, true);
    return out;
  }

  protected override resetDevice(): void {
    this.pending = new Uint8Array(0);
  }

  protected async serve(queueIndex: number, queue: DeviceVirtqueue, memory: MemoryWindow, queueAt: QueueLookup): Promise<ProcessResult> {
    if (queueIndex === CONSOLE_RECEIVEQ) return resultOf(queueIndex, await this.deliver(queue, memory));
    const tx = await serveAll(queue, async (chain) => {
      this.pending = concat(this.pending, await gather(memory, chain.readable));
      return 0;
    });
    let outcome = atQueue(tx, queueIndex);
    const alsoUsed: ProcessResult['alsoUsed'] = [];
    const rxq = queueAt(CONSOLE_RECEIVEQ);
    if (rxq && this.pending.length > 0) {
      const rx = await this.deliver(rxq, memory);
      if (rx.used > 0) alsoUsed.push({ queueIndex: CONSOLE_RECEIVEQ, count: rx.used });
      if (outcome.ok) outcome = atQueue(rx, CONSOLE_RECEIVEQ);
    }
    return { ...outcome, used: tx.used, alsoUsed };
  }

  /** Moves pending bytes into posted receive buffers, one buffer at a time. */
  private async deliver(rxq: DeviceVirtqueue, memory: MemoryWindow): Promise<Served> {
    let used = 0;
    while (this.pending.length > 0) {
      const popped = await rxq.popAvail();
      if (popped === null) break;
      if (!popped.ok) return { ...popped, used };
      const n = await scatter(memory, popped.value.writable, this.pending);
      this.pending = this.pending.slice(n);
      await rxq.pushUsed(popped.value.head, n);
      used++;
    }
    return { ...ok(), used };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Driver workloads

/** Sends `bytes` on transmitq (one device-readable buffer) and waits until the device took it. */
export async function consoleWrite(tx: QueueContext, bytes: Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Result<void>> {
  if (bytes.length === 0) return ok();
  const done = await submitRequests(tx, [[{ data: bytes }]], timeoutMs);
  return done.ok ? ok() : done;
}

export interface ReceiverOptions {
  /** Receive buffers kept posted (default 4). */
  buffers?: number;
  /** Bytes per receive buffer (default 64). */
  bufferSize?: number;
}

/**
 * The driver's receiveq: keeps `buffers` device-writable buffers posted and hands out what the
 * device wrote into them. The posted buffers belong to the device until it returns them, so
 * `release()` (freeing them) is for after a device reset or RESET_VQUEUE only.
 */
export class ConsoleReceiver {
  private readonly buffers: number;
  private readonly bufferSize: number;
  /** head → buffer offset, for buffers posted and not yet returned. */
  private readonly posted = new Map<number, number>();
  /** Free buffers (allocated, not posted). */
  private readonly idle: number[] = [];
  private allocated = 0;
  private backlog: Uint8Array = new Uint8Array(0);

  constructor(
    readonly ctx: QueueContext,
    options: ReceiverOptions = {},
  ) {
    this.buffers = options.buffers ?? 4;
    this.bufferSize = options.bufferSize ?? 64;
  }

  /** Posts receive buffers until `buffers` are with the device, and notifies it. */
  async post(): Promise<Result<void>> {
    while (this.posted.size < this.buffers) {
      let offset = this.idle.pop();
      if (offset === undefined) {
        const block = this.ctx.alloc.alloc(this.bufferSize, 8);
        if (!block.ok) return { ok: false, error: `console receive buffer: ${block.error}` };
        offset = block.value;
        this.allocated++;
      }
      const added = this.ctx.queue.addChain([{ offset, length: this.bufferSize, writable: true }]);
      if (!added.ok) {
        this.idle.push(offset);
        break;
      }
      this.posted.set(added.value, offset);
    }
    const kickError = await publishAndKick(this.ctx);
    return kickError ? { ok: false, error: kickError } : ok();
  }

  /** Exactly `n` received bytes (earlier surplus first), reposting buffers as they come back. */
  async receive(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Result<Uint8Array>> {
    while (this.backlog.length < n) {
      const error = await awaitUsed(this.ctx, new Set(this.posted.keys()), timeoutMs, (head, len) => this.collect(head, len), 'any');
      if (error) return { ok: false, error: `${error}; received ${this.backlog.length} of ${n} bytes` };
      const reposted = await this.post();
      if (!reposted.ok) return reposted;
    }
    const bytes = this.backlog.slice(0, n);
    this.backlog = this.backlog.slice(n);
    return ok(bytes);
  }

  /**
   * Whatever the device wrote within `timeoutMs` (earlier surplus first; empty when nothing
   * came), reposting buffers as they come back: a terminal's reader, which does not know how
   * much to expect.
   */
  async read(timeoutMs: number): Promise<Result<Uint8Array>> {
    if (this.backlog.length === 0) {
      const posted = await this.post();
      if (!posted.ok) return posted;
      const error = await awaitUsed(this.ctx, new Set(this.posted.keys()), timeoutMs, (head, len) => this.collect(head, len), 'within');
      if (error) return { ok: false, error };
      const reposted = await this.post();
      if (!reposted.ok) return reposted;
    }
    const bytes = this.backlog;
    this.backlog = new Uint8Array(0);
    return ok(bytes);
  }

  /** A posted buffer came back with `len` bytes: they join the backlog, the buffer goes idle. */
  private async collect(head: number, len: number): Promise<void> {
    const offset = this.posted.get(head)!;
    this.posted.delete(head);
    this.idle.push(offset);
    this.backlog = concat(this.backlog, await this.ctx.window.read(offset, len));
  }

  /** Frees every receive buffer; only once the device can no longer write them (after reset). */
  release(): void {
    for (const offset of [...this.posted.values(), ...this.idle]) this.ctx.alloc.free(offset);
    this.posted.clear();
    this.idle.length = 0;
    this.allocated = 0;
  }

  /** Buffers this receiver holds (posted or idle). */
  get bufferCount(): number {
    return this.allocated;
  }
}

const receivers = new WeakMap<object, ConsoleReceiver>();

/**
 * The receiver that keeps buffers posted on `rx`'s receiveq, one per virtqueue (created on first
 * use with default options), so successive workloads share the posted buffers.
 */
export function receiverFor(rx: QueueContext): ConsoleReceiver {
  let r = receivers.get(rx.queue);
  if (!r) {
    r = new ConsoleReceiver(rx);
    receivers.set(rx.queue, r);
  }
  return r;
}

/**
 * Frees the buffers of the receiver kept for `queue` and forgets it. Call when the device can no
 * longer write them: after a device reset or RESET_VQUEUE, before the queue's rings are freed.
 */
export function releaseReceiver(queue: QueueContext['queue']): void {
  receivers.get(queue)?.release();
  receivers.delete(queue);
}

/**
 * Writes `bytes` on transmitq and reads the same number of bytes from receiveq (posting receive
 * buffers first); the echo must match what was sent.
 */
export async function consoleEcho(
  tx: QueueContext,
  rx: QueueContext | ConsoleReceiver,
  bytes: Uint8Array,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Result<Uint8Array>> {
  const receiver = rx instanceof ConsoleReceiver ? rx : receiverFor(rx);
  const posted = await receiver.post();
  if (!posted.ok) return posted;
  const sent = await consoleWrite(tx, bytes, timeoutMs);
  if (!sent.ok) return sent;
  const got = await receiver.receive(bytes.length, timeoutMs);
  if (!got.ok) return got;
  const at = bytes.findIndex((b, i) => got.value[i] !== b);
  if (at >= 0) {
    return { ok: false, error: `echo differs at byte ${at}: sent 0x${bytes[at]!.toString(16).padStart(2, '0')}, received 0x${got.value[at]!.toString(16).padStart(2, '0')}` };
  }
  return got;
}

export const CONSOLE_DEVICE = {
  id: DEVICE_ID.CONSOLE,
  name: 'console',
  features: CONSOLE_FEATURE,
  config: CONSOLE_CONFIG,
  // Port 0 only: SIZE is read; MULTIPORT is not negotiated.
  driver: { queues: ['receiveq', 'transmitq'], accepts: [SIZE], requires: [] },
  model: (options) => new ConsoleDeviceModel(options),
  workloads: [
    workload({
      kind: 'console-send',
      /** echo: also read as many bytes back from receiveq and compare (a console that echoes). */
      params: z.object({ text: z.string().min(1).max(4096), echo: z.boolean().optional() }).strict(),
      defaults: { text: 'hello' },
      run: async (queueAt, { text, echo }) => {
        const bytes = new TextEncoder().encode(text);
        const tx = queueAt(CONSOLE_TRANSMITQ);
        if (!echo) {
          const sent = await consoleWrite(tx, bytes);
          return sent.ok ? ok([]) : sent;
        }
        const got = await consoleEcho(tx, queueAt(CONSOLE_RECEIVEQ), bytes);
        return got.ok ? ok([got.value]) : got;
      },
    }),
  ],
  exercise: {
    name: 'console echo',
    round: async (queueAt, i) => {
      // consoleEcho compares the echo with what was sent and says where they differ.
      const r = await consoleEcho(queueAt(CONSOLE_TRANSMITQ), queueAt(CONSOLE_RECEIVEQ), Uint8Array.from(`ping ${i}\n`, (c) => c.charCodeAt(0)));
      return r.ok ? null : r.error;
    },
  },
} satisfies DeviceDescriptor;

/** How long a console reader waits on receiveq before it looks whether it should stop. */
export const CONSOLE_READ_MS = 250;

/**
 * A terminal's reader: reads `receiver` until `stopWhy` gives a reason (or receiveq fails),
 * handing every arrival to `onData`; resolves with why it stopped.
 */
export async function readConsole(receiver: ConsoleReceiver, stopWhy: () => string | null, onData: (bytes: Uint8Array) => void): Promise<string> {
  for (;;) {
    const why = stopWhy();
    if (why !== null) return why;
    const r = await receiver.read(CONSOLE_READ_MS);
    if (!r.ok) return `reading receiveq failed: ${r.error}`;
    if (r.value.length > 0) onData(r.value);
  }
}
