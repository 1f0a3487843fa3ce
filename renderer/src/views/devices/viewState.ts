/**
 * What the Devices and Queues views hold beyond one visit: form fields, a workload's last result,
 * each device's load as device.load events report it, each console's transcript from
 * console.output, the queue picked and its auto-refresh. The shell mounts only the open view, so
 * this lives beside the engine connection (one store per API object) rather than in a component:
 * a tab switch keeps the form and its results, and a load or a console keeps reporting while
 * another view is open.
 */
import { useCallback, useSyncExternalStore } from 'react';

import type { LoadProgress, WorkbenchApi } from '../../../../src/api/workbench';

/** The transcript a console keeps (its latest characters). */
export const CONSOLE_KEEP_CHARS = 64 * 1024;

export interface ConsoleState {
  /** The reader runs in the engine. */
  open: boolean;
  text: string;
  /** Why the reader stopped last; null while it reads or before it first opened. */
  ended: string | null;
}

interface Store {
  values: Map<string, unknown>;
  listeners: Set<() => void>;
}

/** Keys of what describes the session's devices, which a new session or capture makes stale. */
const SESSION_KEYS = /^(load|console|result)\//;

const stores = new WeakMap<WorkbenchApi, Store>();

function set(store: Store, key: string, value: unknown): void {
  store.values.set(key, value);
  for (const l of [...store.listeners]) l();
}

export const loadKey = (devNum: number): string => `load/${devNum}`;
export const consoleKey = (devNum: number): string => `console/${devNum}`;


function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function storeOf(api: WorkbenchApi): Store {
  let store = stores.get(api);
  if (store) return store;
  const s: Store = { values: new Map(), listeners: new Set() };
  stores.set(api, s);
  // One streaming decoder per console: a character's UTF-8 bytes may arrive in two events.
  const decoders = new Map<number, TextDecoder>();
  // Lives as long as the API object: events are kept while no view of them is open.
  api.onEvent((e) => {
    if (e.event === 'device.load') set(s, loadKey(e.data.devNum), e.data);
    else if (e.event === 'console.output') {
      const key = consoleKey(e.data.devNum);
      const was = (s.values.get(key) as ConsoleState | undefined) ?? { open: true, text: '', ended: null };
      let decoder = decoders.get(e.data.devNum);
      if (!decoder) decoders.set(e.data.devNum, (decoder = new TextDecoder()));
      const text = (was.text + decoder.decode(hexBytes(e.data.data), { stream: e.data.ended === null })).slice(-CONSOLE_KEEP_CHARS);
      set(s, key, e.data.ended === null ? { open: true, text, ended: null } : { open: false, text, ended: e.data.ended });
    } else if (e.event === 'trace.reset') {
      for (const k of [...s.values.keys()]) if (SESSION_KEYS.test(k)) s.values.delete(k);
      decoders.clear();
      for (const l of [...s.listeners]) l();
    }
  });
  store = s;
  return store;
}

/**
 * useState whose value outlives the component: kept under `key` for as long as `api` lives.
 * `initial` is used the first time the key is read.
 */
export function useKept<T>(api: WorkbenchApi, key: string, initial: T): [T, (next: T | ((prev: T) => T)) => void] {
  const store = storeOf(api);
  const subscribe = useCallback(
    (l: () => void) => {
      store.listeners.add(l);
      return () => store.listeners.delete(l);
    },
    [store],
  );
  // The first read keeps `initial`, so the snapshot is the same object until it is set.
  if (!store.values.has(key)) store.values.set(key, initial);
  const value = useSyncExternalStore(subscribe, () => store.values.get(key) as T);
  const update = useCallback(
    (next: T | ((prev: T) => T)) => set(store, key, typeof next === 'function' ? (next as (p: T) => T)(store.values.get(key) as T) : next),
    [store, key],
  );
  return [value, update];
}

/** A device's load as the engine last reported it (null: none since this session began). */
export function useLoad(api: WorkbenchApi, devNum: number): [LoadProgress | null, (p: LoadProgress | null) => void] {
  return useKept<LoadProgress | null>(api, loadKey(devNum), null);
}

export function useConsole(api: WorkbenchApi, devNum: number): [ConsoleState, (next: ConsoleState | ((prev: ConsoleState) => ConsoleState)) => void] {
  return useKept<ConsoleState>(api, consoleKey(devNum), { open: false, text: '', ended: null });
}
