/**
 * What the driver needs from the bus endpoint: send a request and get its response, send a
 * message that has no response, and hear events. The session binds it to src/bus/endpoint.
 */
import type { Fail, Ok, Result } from '../../util/result';

/**
 * The response and how long it took, or a failure that says whether the request timed out (no
 * answer came), the link was lost (every request fails the same way from then on), or it failed
 * otherwise (a malformed answer, queue full…).
 */
export type PortResult = (Ok<Uint8Array> & { latencyNs: number }) | (Fail & { timedOut?: boolean; linkLost?: boolean });

export interface DriverPort {
  request(bytes: Uint8Array, timeoutMs: number): Promise<PortResult>;
  /** Sends without waiting for an answer (events; R0 requests the firmware never answers). */
  post(bytes: Uint8Array): Promise<Result<void>>;
  /** Inbound events and unsolicited messages, already recorded by the endpoint. */
  onEvent(listener: (bytes: Uint8Array) => void): () => void;
  /** Drains the incoming queue once (used to busy-poll briefly instead of waiting for a doorbell). */
  poll(): Promise<void>;
}
