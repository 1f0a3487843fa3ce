/**
 * What the driver needs from the bus endpoint: send a request and get its response, send a
 * message that has no response, and hear events. The session binds it to src/bus/endpoint.
 */
/**
 * A failure says whether the request timed out (no answer came), failed because the link to the
 * board is gone (`linkLost`: `error` is the link's reason), or failed otherwise (queue full…).
 */
export type PortResult = { ok: true; response: Uint8Array; latencyNs: number } | { ok: false; error: string; timedOut?: boolean; linkLost?: boolean };

export interface DriverPort {
  request(bytes: Uint8Array, timeoutMs: number): Promise<PortResult>;
  /** Sends without waiting for an answer (events; R0 requests the firmware never answers). */
  post(bytes: Uint8Array): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Inbound events and unsolicited messages, already recorded by the endpoint. */
  onEvent(listener: (bytes: Uint8Array) => void): () => void;
  /** Drains the incoming queue once (used to busy-poll briefly instead of waiting for a doorbell). */
  poll(): Promise<void>;
}
