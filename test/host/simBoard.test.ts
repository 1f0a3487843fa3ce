/**
 * Driver and device as two independent sides, running concurrently on two threads over real
 * shared memory: the workbench in this thread, each simulated board's device side in a worker.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { BUILTIN_PROFILES, findBuiltinProfile } from '../../src/boards/builtin';
import { decode } from '../../src/protocol/index';
import type { Revision } from '../../src/protocol/types';
import { exerciseDevices } from '../../main/host/exercise';
import { openSession, type Session } from '../../main/host/session';
import type { WireMessage } from '../../src/bus/endpoint';

let session: Session | null = null;
afterEach(async () => {
  await session?.close();
  session = null;
});

describe.each(BUILTIN_PROFILES.map((p) => ({ id: p.id, revision: p.bus.revision as Revision })))('$id in a worker thread', ({ id, revision }) => {
  it('probes every device to DRIVER_OK and runs the workloads 50 times each', async () => {
    const seen: WireMessage[] = [];
    session = await openSession(findBuiltinProfile(id)!, { observer: { onMessage: (m) => seen.push(m) } });
    const r = await session.probe();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    for (const d of r.value) expect(d.phase, d.error).toBe('ready');
    const report = await exerciseDevices(session, { count: 50 });
    for (const d of report.devices) expect([d.devNum, d.failed, d.errors]).toEqual([d.devNum, 0, []]);
    // Everything recorded decodes cleanly in the board's revision, in both directions.
    expect(seen.length).toBeGreaterThan(20);
    for (const m of seen) {
      const d = decode(m.bytes, revision, { direction: m.direction });
      expect(d.problems, `${m.direction} ${d.msg?.name}`).toEqual([]);
    }
  });
});
