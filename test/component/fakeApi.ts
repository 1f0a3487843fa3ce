/**
 * A WorkbenchApi for component tests: canned answers per method, a log of calls, and `emit` to
 * push engine events. A method without a handler answers a clear error, as the engine would.
 */
import type { WorkbenchApi, WorkbenchEvent, WorkbenchMethod, WorkbenchParams, WorkbenchResponse } from '../../src/api/workbench';

type Handler<M extends WorkbenchMethod> = (params: WorkbenchParams<M>) => WorkbenchResponse<M> | Promise<WorkbenchResponse<M>>;
export type Handlers = { [M in WorkbenchMethod]?: Handler<M> };

export interface FakeApi extends WorkbenchApi {
  calls: { method: WorkbenchMethod; params: unknown }[];
  emit(e: WorkbenchEvent): void;
  callsOf(method: WorkbenchMethod): unknown[];
}

/** A successful answer; the handler's method decides whether `result` has the right shape. */
export function ok<R>(result: R): { ok: true; result: R } {
  return { ok: true, result };
}

export function fakeApi(handlers: Handlers): FakeApi {
  const listeners = new Set<(e: WorkbenchEvent) => void>();
  const calls: FakeApi['calls'] = [];
  return {
    calls,
    callsOf: (method) => calls.filter((c) => c.method === method).map((c) => c.params),
    emit: (e) => listeners.forEach((l) => l(e)),
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async call<M extends WorkbenchMethod>(method: M, params: WorkbenchParams<M>): Promise<WorkbenchResponse<M>> {
      calls.push({ method, params });
      const h = handlers[method] as Handler<M> | undefined;
      if (!h) return { ok: false, error: { code: 'no-session', message: `${method}: not answered by this fake` } };
      return h(params);
    },
  };
}
