/**
 * The device side of Linux's virtio-msg loopback bus (docs/linux-loopback.md §2): each message the
 * kernel's transport sends is one transaction its `transfer` holds the bus for until this side
 * writes a message with the response bit, giving up after 1 s. The DeviceServer answers as on any
 * bus; this class applies the loopback's rules around it:
 *
 * - messages are exactly VIRTIO_MSG_MIN_SIZE bytes both ways (the kernel's bus_info msg_size);
 * - one transaction at a time, in the order read;
 * - EVENT_AVAIL is sent by the kernel with no response buffer but its transfer still waits for a
 *   response-typed write: the transaction is completed with one once the queue is served;
 * - of the device's own messages only EVENT_USED reaches a driver (virtio_msg_lb_user_handle
 *   drops the rest as "Unsupported message received"): others are refused here, with the reason;
 * - an answer ready after the kernel gave up is withheld: written late it would complete the
 *   kernel's next transfer with this one's answer.
 */
import { decodeHeader, HEADER_SIZE } from '../../protocol/index';
import type { DeviceServer } from './server';

/** VIRTIO_MSG_MIN_SIZE of include/uapi/linux/virtio_msg.h: the loopback bus's message size. */
export const VIRTIO_MSG_MIN_SIZE = 44;
/** virtio_msg_lb_transfer waits this long for the response (wait_for_completion_..._timeout(1000)). */
export const LOOPBACK_TIMEOUT_NS = 1_000_000_000n;
/** The loopback bus speaks the Linux RFC's messages (VIRTIO_MSG_REVISION_1). */
export const LOOPBACK_REVISION = 'r2';

/** VIRTIO_MSG_TYPE_RESPONSE (bit 0 of the type byte). */
const TYPE_RESPONSE = 1;
const EVENT_AVAIL = 0x41;
const EVENT_USED = 0x42;

export interface LoopbackSideOptions {
  /** Writes one VIRTIO_MSG_MIN_SIZE-byte message to the kernel's message device. */
  write(bytes: Uint8Array): void;
  monoNs(): bigint;
  /** Every message read or written, trimmed to its msg_size (what the trace records). */
  onMessage(direction: 'driver-to-device' | 'device-to-driver', bytes: Uint8Array, monoNs: bigint): void;
  /** What was refused or withheld, and why (a trace marker). */
  onProblem(text: string, devNum?: number): void;
  /**
   * An EVENT_AVAIL transfer was completed (the bus's own handshake, not a virtio-msg message: a
   * response-typed EVENT_AVAIL would break the spec's rules, so it goes to the trace as a note).
   */
  onCompleted(text: string, devNum: number): void;
}

export type TransactionOutcome = 'answered' | 'completed' | 'refused' | 'unanswered' | 'late';

/** The loopback rules around a DeviceServer whose `send` is `sideSend`. */
export class LoopbackDeviceSide {
  private answer: Uint8Array | null = null;
  private inTransaction = false;
  private server: DeviceServer | null = null;

  constructor(private readonly opts: LoopbackSideOptions) {}

  /** The DeviceServer to serve through; its `send` must be this object's `send`. */
  attach(server: DeviceServer): void {
    this.server = server;
  }

  /** The DeviceServer's send path: a response is held for the transaction, EVENT_USED goes out at once. */
  readonly send = (bytes: Uint8Array): Promise<void> => {
    const h = decodeHeader(bytes, LOOPBACK_REVISION);
    if (h && h.kind === 'response') {
      if (!this.inTransaction || this.answer) this.opts.onProblem(`a second answer for one transaction was not written (msg_id 0x${h.msgId.toString(16)})`, h.devNum);
      else this.answer = bytes;
    } else if (h && !h.bus && h.msgId === EVENT_USED) {
      this.put(bytes);
    } else {
      const what = h ? `${h.bus ? 'bus ' : ''}message 0x${h.msgId.toString(16).padStart(2, '0')}` : 'an unreadable message';
      this.opts.onProblem(`${what} not sent: the loopback bus takes only EVENT_USED from the device side (virtio_msg_lb_user_handle)`, h?.devNum);
    }
    return Promise.resolve();
  };

  /**
   * Serves one message the kernel sent (read at `readNs`): exactly VIRTIO_MSG_MIN_SIZE bytes, else
   * refused (the kernel never sends another size). Returns what became of the transaction.
   */
  async transact(bytes: Uint8Array, readNs: bigint): Promise<TransactionOutcome> {
    const server = this.server;
    if (!server) throw new Error('LoopbackDeviceSide.transact before attach');
    this.opts.onMessage('driver-to-device', trimmed(bytes), readNs);
    if (bytes.length !== VIRTIO_MSG_MIN_SIZE) {
      this.opts.onProblem(`refused a ${bytes.length}-byte message: the loopback bus carries ${VIRTIO_MSG_MIN_SIZE}-byte messages (VIRTIO_MSG_MIN_SIZE); the kernel times out in 1 s`);
      return 'refused';
    }
    const h = decodeHeader(bytes, LOOPBACK_REVISION);
    this.inTransaction = true;
    this.answer = null;
    try {
      await server.handle(bytes);
    } finally {
      this.inTransaction = false;
    }
    const completion = !this.answer && h !== null && !h.bus && h.kind === 'event' && h.msgId === EVENT_AVAIL;
    const answer = completion ? availCompletion(h.devNum) : this.answer;
    this.answer = null;
    if (!answer) {
      this.opts.onProblem('no answer: the kernel gives up on this transfer after 1 s (-ETIMEDOUT)', h?.devNum);
      return 'unanswered';
    }
    const took = this.opts.monoNs() - readNs;
    if (took > LOOPBACK_TIMEOUT_NS) {
      this.opts.onProblem(`answer withheld: ready after ${Number(took / 1_000_000n)} ms, the kernel gave up after 1 s and a late answer would complete its next transfer`, h?.devNum);
      return 'late';
    }
    if (completion && h) {
      this.write(answer);
      this.opts.onCompleted(`EVENT_AVAIL transfer completed: wrote ${hex(answer)} (response bit, msg_id EVENT_AVAIL) as the loopback bus needs`, h.devNum);
      return 'completed';
    }
    this.put(answer);
    return 'answered';
  }

  private put(bytes: Uint8Array): void {
    const out = new Uint8Array(VIRTIO_MSG_MIN_SIZE);
    out.set(bytes.subarray(0, VIRTIO_MSG_MIN_SIZE));
    if (bytes.length > VIRTIO_MSG_MIN_SIZE) {
      this.opts.onProblem(`a ${bytes.length}-byte message cut to ${VIRTIO_MSG_MIN_SIZE} bytes (the loopback bus's msg_size)`);
    }
    this.opts.onMessage('device-to-driver', trimmed(out), this.opts.monoNs());
    this.opts.write(out);
  }

  /** Writes a message of the bus's size without recording it as a virtio-msg message. */
  private write(bytes: Uint8Array): void {
    const out = new Uint8Array(VIRTIO_MSG_MIN_SIZE);
    out.set(bytes);
    this.opts.write(out);
  }
}

/**
 * What completes the kernel's EVENT_AVAIL transfer: the write path wakes `transfer` for any
 * message with the response bit and copies nothing (its response buffer is NULL). The header
 * names the event it answers, msg_size the header alone.
 */
export function availCompletion(devNum: number): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE[LOOPBACK_REVISION]);
  const dv = new DataView(out.buffer);
  out[0] = TYPE_RESPONSE;
  out[1] = EVENT_AVAIL;
  dv.setUint16(2, devNum, true);
  dv.setUint16(4, out.length, true);
  return out;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** The message as far as its msg_size says (the whole buffer when msg_size is unusable). */
function trimmed(bytes: Uint8Array): Uint8Array {
  if (bytes.length < HEADER_SIZE[LOOPBACK_REVISION]) return bytes;
  const size = bytes[4]! | (bytes[5]! << 8);
  return size >= HEADER_SIZE[LOOPBACK_REVISION] && size <= bytes.length ? bytes.subarray(0, size) : bytes;
}
