/**
 * A UI session's rolling capture run past its ring (1 MiB here): the journal deletes its oldest
 * segments, and the service must then serve only the records still held — rows with no blanks,
 * counts, stats, windows and exports over what is held, a record that went reported as not
 * found, and trace.info saying how many went from the start.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { WorkbenchService } from '../../main/host/service/workbench';
import { serviceCalls } from './serviceCalls';
import type { WorkbenchEvent } from '../../src/api/workbench';

let root = '';
let service: WorkbenchService;

const { call } = serviceCalls(() => service);

const RING = 1 << 20;
/** Bookmarks of ~1 KB: three rings' worth. */
const MARKS = 3000;
const pad = 'x'.repeat(990);
let firstSeq = -1;
let lastSeq = -1;
const events: WorkbenchEvent[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'amp-ring-'));
  service = new WorkbenchService({ capturesDir: join(root, 'captures'), ringBytes: RING, residentBytes: RING / 4 });
  service.onEvent((e) => events.push(e));
  await call('session.connect', {});
  for (let i = 0; i < MARKS; i++) {
    const { seq } = await call('trace.bookmark', { text: `mark ${i} ${pad}` });
    if (i === 0) firstSeq = seq;
    lastSeq = seq;
  }
  // The recorder flushes at least every 100 ms: wait until the last bookmark is in the trace.
  for (;;) {
    const r = await service.handle('trace.record', { seq: lastSeq });
    if (r.ok) break;
    await new Promise((res) => setTimeout(res, 20));
  }
}, 60_000);

afterAll(async () => {
  await service.close();
  rmSync(root, { recursive: true, force: true });
});

describe('a UI session past its rolling capture', () => {
  it('says how many records went from the start, and holds about one ring of the newest', async () => {
    const info = await call('trace.info');
    expect(info.dropped).toBeGreaterThan(0);
    expect(info.dropped).toBeLessThan(info.count);
    // Every bookmark is ~1 KB: the records held are about one ring (at least 3/4 of it: a segment is a quarter).
    expect(info.count - info.dropped).toBeGreaterThan((0.7 * RING) / 1064);
    expect(info.count - info.dropped).toBeLessThan((1.1 * RING) / 1000 + 100);
    // The views hear it with the growth: their rows shifted.
    const appended = events.flatMap((e) => (e.event === 'trace.appended' ? [e.data] : []));
    expect(appended.some((d) => (d.dropped ?? 0) > 0 && d.total < info.count)).toBe(true);
  });

  it('serves rows of held records only: no blanks, from the oldest held to the newest', async () => {
    const info = await call('trace.info');
    const first = await call('trace.rows', { from: 0, count: 50 });
    expect(first.total).toBe(info.count - info.dropped);
    expect(first.rows).toHaveLength(50);
    expect(first.rows[0]!.index).toBe(info.dropped);
    first.rows.forEach((r, i) => expect(r.index).toBe(info.dropped + i));
    const last = await call('trace.rows', { from: first.total - 10, count: 50 });
    expect(last.rows).toHaveLength(10);
    expect(last.rows[9]!.seq).toBeGreaterThanOrEqual(lastSeq);
    const marks = await call('trace.rows', { from: 0, count: 5000, filter: 'kind == marker' });
    expect(marks.rows).toHaveLength(Math.min(5000, marks.total));
    expect(marks.total).toBeLessThanOrEqual(first.total);
    for (const r of marks.rows) expect(r.index).toBeGreaterThanOrEqual(info.dropped);
  });

  it('reports a record that went as not found, and one still held as it is', async () => {
    const gone = await service.handle('trace.record', { seq: firstSeq });
    expect(gone.ok).toBe(false);
    if (!gone.ok) expect(gone.error.code).toBe('not-found');
    const held = await call('trace.record', { seq: lastSeq });
    expect(held.text).toBe(`mark ${MARKS - 1} ${pad}`);
  });

  it('counts, windows and exports what is held, and says what went', async () => {
    const info = await call('trace.info');
    const held = info.count - info.dropped;
    const stats = await call('trace.stats');
    expect(stats.records).toBe(held);
    const marked = await call('trace.stats', { filter: 'kind == marker' });
    const marks = await call('trace.rows', { from: 0, count: 1, filter: 'kind == marker' });
    expect(marked.records).toBe(marks.total);
    const w = await call('trace.window', { fromNs: 0, toNs: (info.lastNs ?? 0) + 1, buckets: 100, series: 'messages' });
    expect(w.count.reduce((a, b) => a + b, 0)).toBe(stats.kinds.message ?? 0);
    const out = join(root, 'held.jsonl');
    const exported = await call('trace.export', { format: 'jsonl', out });
    expect(exported.dropped).toBe(info.dropped);
    expect(exported.written).toBe(held);
    // The header line, then one line per record held.
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(held + 1);
  });
});
