/**
 * The one result shape for anything that can fail as a value (bad bytes from a board, a bad file, a
 * bad request): success carries `value`, failure carries `error`, never thrown. Failures that need
 * more than words (a filter's column, a frame's byte offset) make `E` an object.
 */
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
