/**
 * The one result shape for anything that can fail as a value (bad bytes from a board, a bad file, a
 * bad request): success carries `value`, failure carries `error`, never thrown. Failures that need
 * more than words (a filter's column, a frame's byte offset) make `E` an object; a result that says
 * more on either side (a reply's latency, a failure that was a timeout) intersects Ok or Fail with it.
 */
export type Ok<T> = { ok: true; value: T };
export type Fail<E = string> = { ok: false; error: E };
export type Result<T, E = string> = Ok<T> | Fail<E>;

/** A success; `ok()` for one with nothing to carry (Result<void>). */
export function ok(): Ok<void>;
export function ok<T>(value: T): Ok<T>;
export function ok<T>(value?: T): Ok<T | undefined> {
  return { ok: true, value };
}

export function fail<E>(error: E): Fail<E> {
  return { ok: false, error };
}
