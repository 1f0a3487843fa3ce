/** Calling a WorkbenchService from a test: results checked against the method's result schema, failures as values. */
import type { WorkbenchService } from '../../main/host/service/workbench';
import { WORKBENCH_METHODS, type WorkbenchError, type WorkbenchMethod, type WorkbenchResult } from '../../src/api/workbench';

/** `service()` is read at each call, so a test may create the service in beforeAll. */
export function serviceCalls(service: () => WorkbenchService) {
  return {
    /** Calls the service; the result must satisfy the method's result schema. */
    async call<M extends WorkbenchMethod>(method: M, params: unknown = {}): Promise<WorkbenchResult<M>> {
      const r = await service().handle(method, params);
      if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
      return WORKBENCH_METHODS[method].result.parse(r.result) as WorkbenchResult<M>;
    },
    /** Calls the service expecting it to refuse; the error it gave. */
    async fail(method: string, params: unknown = {}): Promise<WorkbenchError> {
      const r = await service().handle(method, params);
      if (r.ok) throw new Error(`${method} succeeded, expected an error`);
      return r.error;
    },
  };
}
