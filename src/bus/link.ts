import type { MemoryWindow } from './window';

/** Driver→device or device→driver notification: "look at the message queue". */
export interface DoorbellOut {
  ring(): Promise<void>;
}

export interface DoorbellIn {
  /** 'interrupt' when the peer's rings arrive as events, 'poll' when the link can only poll. */
  readonly mode: 'interrupt' | 'poll';
  /** Calls `listener` (coalesced) after the peer rang; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/**
 * Everything the bus engine needs from a board, whatever carries it (simulator, shm file, PCIe,
 * serial bridge, QEMU): the message-queue window, the data memory where virtqueues and buffers
 * live, and one doorbell each way (docs/architecture.md "What flows through the house").
 */
export interface Link {
  /** Human-readable, e.g. "sim-qemu-amp-pci (worker thread)". */
  readonly description: string;
  /** The bus area: where the queue layout / rings start (profile bus.region + bus.offset). */
  readonly busWindow: MemoryWindow;
  /** Data memory for vrings and buffers (profile dataMemory). */
  readonly dataWindow: MemoryWindow;
  /** Address the peer uses for byte 0 of dataWindow (SET_VQUEUE addresses are peerBase + offset). */
  readonly dataPeerBase: bigint;
  readonly doorbellOut: DoorbellOut;
  readonly doorbellIn: DoorbellIn;
  close(): Promise<void>;
}
