/**
 * A rolling capture drops its oldest records: trace.appended says how many (`dropped`), row i of
 * the view is then another record, and the rows cached before must not be shown for it.
 */
import { describe, expect, it } from 'vitest';
import { TraceRows } from '../../../renderer/src/views/trace/traceRows';
import { fakeApi, ok } from '../fakeApi';
import { makeRow } from './traceFake';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((res) => setTimeout(res, 0));
};

describe('TraceRows over a rolling capture', () => {
  it('reads its pages again when the oldest records went, for the unfiltered and a filtered view', async () => {
    const ring = { count: 1000, dropped: 0 };
    const held = (): number => ring.count - ring.dropped;
    const api = fakeApi({
      'trace.rows': ({ from, count }) => {
        const rows = [];
        for (let i = from; i < Math.min(held(), from + count); i++) rows.push(makeRow(ring.dropped + i));
        return ok({ total: held(), from, rows });
      },
    });
    const views = [new TraceRows(api, ''), new TraceRows(api, 'dev == 1')];
    for (const v of views) v.start();
    await settle();
    for (const v of views) v.ensure(0, 10);
    await settle();
    for (const v of views) expect(v.row(0)?.index).toBe(0);

    ring.count = 1300;
    ring.dropped = 300;
    api.emit({ event: 'trace.appended', data: { count: 300, total: held(), dropped: ring.dropped } });
    await settle();
    for (const v of views) {
      expect(v.total).toBe(1000);
      v.ensure(0, 10);
    }
    await settle();
    for (const v of views) expect(v.row(0)?.index).toBe(300);
  });
});
