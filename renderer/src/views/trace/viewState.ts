/**
 * State of the Trace view that outlives the view: the shell unmounts a view when another tab is
 * chosen, and a Wireshark user expects the filter, hidden kinds, marks, columns and time format
 * to be there on coming back. Kept per engine (the WorkbenchApi object), in memory only.
 */
import { useEffect, useState, type Dispatch, type SetStateAction } from 'react';

const stores = new WeakMap<object, Map<string, unknown>>();

/** useState whose value is remembered under `key` for `owner` and restored on the next mount. */
export function useViewState<T>(owner: object, key: string, initial: T): [T, Dispatch<SetStateAction<T>>] {
  let store = stores.get(owner);
  if (!store) stores.set(owner, (store = new Map()));
  const kept = store;
  const [value, setValue] = useState<T>(() => (kept.has(key) ? (kept.get(key) as T) : initial));
  useEffect(() => {
    kept.set(key, value);
  }, [kept, key, value]);
  return [value, setValue];
}
