import type { Runtime } from '../util/runtime';

/** The four shared-memory queue formats of docs/amp-bus.md §4. */
export type QueueFormat = 'spsc-v0' | 'spsc-v1' | 'vmamp-shmem-v1' | 'openamp-static-v1';
export const QUEUE_FORMATS: readonly QueueFormat[] = ['spsc-v0', 'spsc-v1', 'vmamp-shmem-v1', 'openamp-static-v1'];

export type BusRole = 'driver' | 'device';

/** A fault seen in shared memory: reported, never thrown, never a hang. */
export interface QueueProblem {
  code:
    | 'layout' // layout header / queue definition fails validation
    | 'layout-not-ready' // magic not (yet) written
    | 'peer-index' // a peer index out of range
    | 'peer-state' // peer SHUTDOWN / PEER_DEAD / restarted to INIT
    | 'timeout'; // a handshake stage did not complete in time
  /** Byte offset in the bus window of the offending field. */
  offset: number;
  /** What was expected and what was seen. */
  reason: string;
}

/** Handshake and layout stages, reported as they happen (UI progress, trace markers). */
export type AttachStage =
  | 'layout-wait'
  | 'layout-valid'
  | 'layout-written'
  | 'own-head-init'
  | 'peer-wait'
  | 'ready'
  | 'run';

export interface QueueState {
  format: QueueFormat;
  /** Slots per direction and bytes per slot. */
  capacity: number;
  slotSize: number;
  /** Producer/consumer indices of both directions, as read from memory. */
  driverToDevice: { producer: number; consumer: number };
  deviceToDriver: { producer: number; consumer: number };
  /** Head status words where the format has them (vmamp: INIT/READY/RUN/SHUTDOWN/PEER_DEAD). */
  ownStatus?: string;
  peerStatus?: string;
}

/** One endpoint's side of the pair of message rings. */
export interface MessageQueue {
  readonly format: QueueFormat;
  readonly role: BusRole;
  /** Largest message a slot carries. */
  readonly slotSize: number;
  /** Messages that can be in flight in one direction at most. */
  readonly capacity: number;
  /** Places one message (zero-filling the rest of the slot); 'full' when no slot is free. */
  send(message: Uint8Array): Promise<'ok' | 'full'>;
  /** Places as many of `messages` as fit, publishing the producer index once; returns how many. */
  sendBatch(messages: readonly Uint8Array[]): Promise<number>;
  /**
   * Copies out up to `max` waiting messages, each a private copy of its whole slot (the caller
   * trims by msg_size), and advances the consumer index. A fault is returned with the messages
   * it does not stop; a stopped queue (`fault`, `shutdown`) still yields, once each, the messages
   * published up to the producer index last read, then its fault (if any) alone, then nothing.
   */
  recv(max?: number): Promise<{ messages: Uint8Array[]; problem?: QueueProblem }>;
  state(): Promise<QueueState>;
  /**
   * Set once the queue stopped for good because of the peer (SHUTDOWN, PEER_DEAD, restarted to
   * INIT): sends place nothing, and receives only drain what the peer published before it
   * stopped (its producer index is read once more after a stop that keeps it; after a restart,
   * which zeroes it, the last one read is kept), until the session re-attaches.
   */
  readonly fault?: QueueProblem | undefined;
  /** Orderly stop of this side (vmamp: own status SHUTDOWN); later sends do nothing, later receives drain what was published up to the index last read. */
  shutdown?(): Promise<void>;
  /**
   * Device side, once its driver stopped: takes back the layout it published (zeroes the layout
   * magic), so a driver that arrives before the queues are laid out again waits for them instead
   * of attaching to the old ones (docs/amp-bus.md §4.2). Formats without a layout have none.
   */
  withdraw?(): Promise<void>;
}

export interface AttachOptions {
  runtime: Runtime;
  /** Give up a stage after this long (docs/amp-bus.md §11 bus.timeouts). */
  layoutTimeoutMs?: number;
  peerTimeoutMs?: number;
  /** Poll interval while waiting for the layout or the peer. */
  pollMs?: number;
  onStage?: (stage: AttachStage, detail: string) => void;
  /**
   * vmamp-shmem-v1 / openamp-static-v1: when the peer initialised its queue head but never
   * leaves INIT (QEMU gives up its handshake after ~100 s while messages still flow,
   * docs/peers.md §1.2), proceed after `peerTimeoutMs` with a finding instead of failing.
   */
  tolerateStuckPeer?: boolean;
  /**
   * Device side only: the workbench serving driver after driver (`serve-device`), not a board's
   * firmware. It waits past the previous driver's stopped vmamp head instead of going SHUTDOWN,
   * and reads an OpenAMP driver's ring only once that driver's head is READY (docs/amp-bus.md
   * §4.2, §4.3). Simulated boards leave it off and behave as the firmware they stand for.
   */
  rearming?: boolean;
}
