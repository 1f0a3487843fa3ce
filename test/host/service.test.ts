/**
 * WorkbenchService against the default simulated board: connect, bring-up, a live trace that
 * answers rows / filters / records / windows / stats exactly as the journal on disk holds them,
 * bookmarks, export, disconnect, and the saved capture opened again (also through a store that
 * keeps almost nothing in memory, so every block comes back from disk).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import versalRaw from '../../src/boards/profiles/sim-versal.json';
import { WorkbenchService } from '../../main/host/service/workbench';
import { serviceCalls } from './serviceCalls';
import { ANALYSIS_FILE } from '../../main/host/trace/analysisFile';
import { openJournal } from '../../main/host/trace/journal';
import { loadCapture } from '../../main/host/trace/load';
import { WORKBENCH_EVENTS, type WorkbenchEvent, type WorkbenchResult } from '../../src/api/workbench';
import { blockCount, forEachRecord, toRecords } from '../../src/trace/block';
import { describeRecord } from '../../src/trace/describe';
import { compileFilter } from '../../src/trace/filter';
import { toHex } from '../../src/util/hex';
import { RECORD_FLAGS, type TraceRecord } from '../../src/trace/record';

let root = '';
let service: WorkbenchService;
const events: WorkbenchEvent[] = [];

const { call, fail } = serviceCalls(() => service);

/** Every row of the (filtered) view, paged as a table would. */
async function allRows(filter?: string) {
  const rows: WorkbenchResult<'trace.rows'>['rows'] = [];
  for (;;) {
    const page = await call('trace.rows', { from: rows.length, count: 5000, ...(filter ? { filter } : {}) });
    rows.push(...page.rows);
    if (rows.length >= page.total) return rows;
  }
}

let connected: WorkbenchResult<'session.connect'>;
let closedAnalysis: unknown;
let captureDir = '';
let journal: TraceRecord[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'amp-service-'));
  service = new WorkbenchService({ capturesDir: join(root, 'captures') });
  service.onEvent((e) => {
    WORKBENCH_EVENTS[e.event].parse(e.data);
    events.push(e);
  });
  connected = await call('session.connect', {});
  captureDir = connected.capture!;
}, 30_000);

afterAll(async () => {
  await service.close();
  rmSync(root, { recursive: true, force: true });
});

describe('WorkbenchService on the default simulated board', () => {
  it('connects, reports the handshake stages, and brings every device to DRIVER_OK', async () => {
    expect(connected.connected).toBe(true);
    expect(connected.board).toBe('sim-qemu-amp-pci');
    expect(connected).toMatchObject({ role: 'driver', source: 'board' });
    expect(connected.bringUpError).toBeNull();
    expect(connected.devices.map((d) => d.deviceType).sort()).toEqual(['console', 'i2c', 'rng']);
    for (const d of connected.devices) {
      expect(d.phase).toBe('ready');
      expect(d.statusNames).toContain('DRIVER_OK');
      expect(d.features.find((f) => f.name === 'VIRTIO_F_VERSION_1')).toMatchObject({ offered: true, negotiated: true });
    }
    const stages = events.filter((e) => e.event === 'session.stage').map((e) => (e.data as { stage: string }).stage);
    expect(stages).toContain('ready');
    expect(events.some((e) => e.event === 'session.device')).toBe(true);
    expect(captureDir.startsWith(join(root, 'captures'))).toBe(true);
    expect((await call('session.state')).devices).toHaveLength(3);
  });

  it('runs workloads and the trace grows while live', async () => {
    const before = (await call('trace.info')).count;
    const devices = (await call('session.state')).devices;
    const rng = devices.find((d) => d.deviceType === 'rng')!;
    const i2c = devices.find((d) => d.deviceType === 'i2c')!;
    const con = devices.find((d) => d.deviceType === 'console')!;
    const r = await call('device.workload', { devNum: rng.devNum, kind: 'rng-read', params: { bytes: 32 } });
    expect(r).toMatchObject({ succeeded: true, error: null });
    expect(r.reads[0]).toHaveLength(64);
    const w = await call('device.workload', { devNum: i2c.devNum, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ write: '03 a5 5a' }] } });
    expect(w.succeeded).toBe(true);
    const rd = await call('device.workload', { devNum: i2c.devNum, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ write: '03' }, { read: 2 }] } });
    expect(rd).toMatchObject({ succeeded: true, reads: ['a55a'] });
    const echo = await call('device.workload', { devNum: con.devNum, kind: 'console-send', params: { text: 'hello', echo: true } });
    expect(echo).toMatchObject({ succeeded: true, reads: [toHex(new TextEncoder().encode('hello'), '')] });
    const wrongType = await fail('device.workload', { devNum: rng.devNum, kind: 'console-send', params: { text: 'x' } });
    expect(wrongType.message).toMatch(/needs virtio device type 3/);
    // The recorder flushes at least every 100 ms; wait for the workload's records to arrive.
    while ((await call('trace.info')).count <= before) await new Promise((res) => setTimeout(res, 20));
    expect(events.some((e) => e.event === 'trace.appended')).toBe(true);
    // The chains' bytes are in the trace: "hello" published on the console's transmitq and read back on its receiveq.
    const hello = toHex(new TextEncoder().encode('hello'), '');
    // The recorder flushes at least every 100 ms.
    const sent = await vi.waitFor(async () => {
      const found = (await allRows(`kind == buffer && dev == ${con.devNum}`)).find((b) => b.dir === 'driver-to-device' && b.summary.includes('published: 5 bytes'));
      if (!found) throw new Error('no buffer record of "hello" yet');
      return found;
    });
    expect((await call('trace.record', { seq: sent.seq })).buffer).toMatchObject({ toDevice: true, length: 5, bytes: hello });
    const ops = await call('trace.transactions', { kind: 'virtqueue', count: 1000, from: 0 });
    const withHello = ops.rows.filter((r) => r.kind === 'virtqueue' && r.dev === con.devNum && r.buffers.some((b) => b.bytes === hello));
    // transmitq: "hello" published, nothing written back; the echo is written into a receiveq chain.
    expect(withHello.map((r) => r.kind === 'virtqueue' && [r.queue, r.buffers.map((b) => [b.toDevice, b.length, b.bytes])])).toEqual([[1, [[true, 5, hello], [false, 0, '']]]]);
    const echoed = (await allRows(`kind == buffer && dev == ${con.devNum}`)).find((b) => b.channel === 0 && b.dir === 'device-to-driver' && b.size > 8)!;
    expect((await call('trace.record', { seq: echoed.seq })).buffer).toEqual({ toDevice: false, head: 0, length: 5, bytes: hello });
    const ring = await call('queue.inspect', { devNum: rng.devNum, queue: 0 });
    expect(ring.ring.size).toBeGreaterThan(0);
    expect(ring.ring.inFlight).toBe(0);
    expect((await fail('queue.inspect', { devNum: rng.devNum, queue: 7 })).code).toBe('not-found');
    expect((await fail('device.reset', { devNum: 99 })).message).toMatch(/no device with dev_num 99/);
  });

  it('resets a device back to DRIVER_OK and adds a bookmark that shows up in the trace', async () => {
    const rng = (await call('session.state')).devices.find((d) => d.deviceType === 'rng')!;
    expect((await call('device.reset', { devNum: rng.devNum })).device.phase).toBe('ready');
    const { seq } = await call('trace.bookmark', { text: 'after the reset' });
    const detail = await call('trace.record', { seq });
    expect(detail.row.name).toBe('BOOKMARK');
    expect(detail.text).toBe('after the reset');
  });

  it('rejects a bad filter with its column, and a capture.open while connected', async () => {
    const e = await fail('trace.rows', { from: 0, count: 10, filter: 'dev == 1 && bogus == 2' });
    expect(e.code).toBe('bad-filter');
    expect(e.column).toBe(13);
    expect((await fail('capture.open', { path: root })).code).toBe('busy');
    expect((await fail('session.connect', {})).code).toBe('busy');
  });

  it('disconnects and keeps the capture, which holds exactly the records of the trace', async () => {
    const { capture, records } = await call('session.disconnect');
    expect(capture).toBe(captureDir);
    expect(existsSync(captureDir)).toBe(true);
    journal = toRecords(savedCapture().blocks());
    expect(journal).toHaveLength(records);
    const info = await call('trace.info');
    expect(info).toMatchObject({ source: 'file', count: records, path: captureDir });
    expect(events.some((e) => e.event === 'session.closed')).toBe(true);
    // The ended session's trace is still the board's, not an opened capture.
    expect(await call('session.state')).toMatchObject({ connected: false, role: 'driver', source: 'board', capture: null });
    expect((await fail('session.disconnect')).code).toBe('no-session');
    // The closed capture heads the recent list, with its record count.
    const recent = await call('capture.recent');
    expect(recent.folder).toBe(join(root, 'captures'));
    expect(recent.captures[0]).toMatchObject({ path: captureDir, board: 'sim-qemu-amp-pci', records });
    // The session's analysis is saved with its capture (main/host/trace/analysisFile.ts).
    closedAnalysis = { stats: await call('trace.stats'), expert: await call('trace.expert') };
    await vi.waitFor(() => expect(existsSync(join(captureDir, ANALYSIS_FILE))).toBe(true));
  });

  it('answers rows, filters and records as the journal holds them', async () => {
    const rows = await allRows();
    expect(rows.map((r) => r.seq)).toEqual(journal.map((r) => r.seq));
    expect(rows.map((r) => r.name)).toEqual(journal.map((r) => describeRecord(r).name));
    expect(rows.map((r) => r.index)).toEqual(journal.map((_, i) => i));
    for (const f of ['dev == 0 && msg == GET_VQUEUE', 'latency > 0us', 'kind == doorbell', 'msg ~ "EVENT"']) {
      const saved = savedCapture();
      const c = compileFilter(f, { startMonoNs: saved.meta.startMonoNs });
      if (!c.ok) throw new Error(c.error);
      const fromJournal: number[] = [];
      forEachRecord(saved.blocks(), (v) => {
        if (c.value.test(v)) fromJournal.push(v.seq);
      });
      expect(fromJournal.length, f).toBeGreaterThan(0);
      expect((await allRows(f)).map((r) => r.seq), f).toEqual(fromJournal);
    }
    const response = journal.find((r) => r.pairSeq !== null && r.kind === 'message')!;
    const d = await call('trace.record', { seq: response.seq });
    expect(d.row.pairSeq).toBe(response.pairSeq);
    expect(d.row.latencyNs).toBe(Number(response.latencyNs));
    expect(d.data).toBe(toHex(response.data, ''));
    expect(d.fields.find((f) => f.name === 'msg_id')).toMatchObject({ part: 'header', offset: 1, size: 1, value: response.msgId });
    expect(d.fields.find((f) => f.name === 'dev_num')).toMatchObject({ offset: 2, size: 2, value: response.devNum });
    expect((await fail('trace.record', { seq: journal.length + 10 })).code).toBe('not-found');
  });

  it('colours rows by the first colour rule each matches, and refuses a bad rule by its place', async () => {
    const page = await call('trace.rows', { from: 0, count: 5000, colourRules: ['type == response', 'dev == 0', 'problem'] });
    // The same three rules over the journal's records, by hand.
    const expected = (r: TraceRecord): number | undefined =>
      r.kind === 'message' && (r.flags & RECORD_FLAGS.response) !== 0 ? 0 : r.devNum === 0 ? 1 : r.problems !== 0 ? 2 : undefined;
    const bySeq = new Map(journal.map((r) => [r.seq, r]));
    for (const row of page.rows) expect(row.colour, `record ${row.seq} ${row.name}`).toBe(expected(bySeq.get(row.seq)!));
    expect(page.rows.some((r) => r.colour === 1)).toBe(true);
    expect((await call('trace.rows', { from: 0, count: 3 })).rows.every((r) => !('colour' in r))).toBe(true);
    const e = await fail('trace.rows', { from: 0, count: 1, colourRules: ['dev == 1', 'dev = 2'] });
    expect(e).toMatchObject({ code: 'bad-filter', field: 'params.colourRules.1', column: 5 });
    expect(e.message).toMatch(/^colour rule 2: /);
  });

  it("gives each row its time since the previous record of the trace, whatever the filter", async () => {
    const all = await allRows();
    expect(all[0]!.deltaNs).toBeUndefined();
    for (let i = 1; i < all.length; i++) expect(all[i]!.deltaNs).toBe(all[i]!.timeNs - all[i - 1]!.timeNs);
    for (const r of await allRows('type == response')) expect(r.deltaNs).toBe(r.timeNs - all[r.index - 1]!.timeNs);
  });

  it('sorts a view by a column, ties in trace order, records without the value last', async () => {
    const byLatency = await call('trace.rows', { from: 0, count: 5000, filter: 'type == response', sort: { column: 'latency', descending: true } });
    const responses = await allRows('type == response');
    expect(byLatency.total).toBe(responses.length);
    // Paired responses by latency (largest first, ties by position), then unpaired ones in trace order.
    const paired = responses.filter((r) => r.latencyNs !== null);
    const want = [...paired.sort((a, b) => b.latencyNs! - a.latencyNs! || a.index - b.index), ...responses.filter((r) => r.latencyNs === null)];
    expect(byLatency.rows.map((r) => r.seq)).toEqual(want.map((r) => r.seq));
    // Paged: a later page continues the same order.
    const page2 = await call('trace.rows', { from: 3, count: 4, filter: 'type == response', sort: { column: 'latency', descending: true } });
    expect(page2.rows.map((r) => r.seq)).toEqual(want.slice(3, 7).map((r) => r.seq));

    const byName = await call('trace.rows', { from: 0, count: 5000, sort: { column: 'msg', descending: false } });
    const names = byName.rows.map((r) => r.name);
    expect(names).toEqual([...names].sort());
    const byDev = (await call('trace.rows', { from: 0, count: 5000, sort: { column: 'dev', descending: false } })).rows;
    const firstWithout = byDev.findIndex((r) => r.dev === null);
    expect(byDev.slice(firstWithout).every((r) => r.dev === null)).toBe(true);
    expect(byDev.slice(0, firstWithout).map((r) => r.dev)).toEqual(byDev.slice(0, firstWithout).map((r) => r.dev).sort((a, b) => a! - b!));
  });

  it('answers windows and stats as the journal holds them', async () => {
    const info = await call('trace.info');
    const messages = journal.filter((r) => r.kind === 'message');
    const w = await call('trace.window', { fromNs: 0, toNs: info.lastNs! + 1, buckets: 16, series: 'messages' });
    expect(w.count.reduce((a, b) => a + b, 0)).toBe(messages.length);
    const lat = await call('trace.window', { fromNs: 0, toNs: info.lastNs! + 1, buckets: 1, series: 'latency', dev: 0 });
    const paired = messages.filter((r) => r.pairSeq !== null && r.devNum === 0);
    expect(lat.count[0]).toBe(paired.length);
    expect(lat.max[0]).toBe(Math.max(...paired.map((r) => Number(r.latencyNs))));
    const stats = await call('trace.stats');
    expect(stats.records).toBe(journal.length);
    expect(stats.kinds.message).toBe(messages.length);
    const filtered = await call('trace.stats', { filter: 'dev == 0' });
    expect(filtered.records).toBe(journal.filter((r) => r.devNum === 0).length);
  });

  it('exports pcapng that reads back with the same count, with progress', async () => {
    const out = join(root, 'trace.pcapng');
    const r = await call('trace.export', { format: 'pcapng', out });
    expect(r.written).toBe(journal.length);
    const back = loadCapture(out);
    if (!back.ok) throw new Error(back.error);
    // A file source counts its records as it streams them.
    expect(blockCount(back.value.blocks())).toBe(journal.length);
    expect(back.value.count).toBe(journal.length);
    expect(events.some((e) => e.event === 'export.progress')).toBe(true);
    expect((await fail('trace.export', { format: 'pcapng', out: 'relative.pcapng' })).field).toBe('params.out');
    // An existing file is replaced only when asked to.
    expect(await fail('trace.export', { format: 'pcapng', out })).toMatchObject({ code: 'exists', field: 'params.out', message: `${out} already exists; choose another name or replace it` });
    const chosen = journal.filter((_, i) => i % 7 === 3).map((r) => r.seq);
    const some = await call('trace.export', { format: 'jsonl', out: join(root, 'chosen.jsonl'), seqs: [...chosen, 1e9] });
    expect(some.written).toBe(chosen.length);
    const again = await call('trace.export', { format: 'jsonl', out: join(root, 'chosen.jsonl'), seqs: chosen, filter: 'kind == message', overwrite: true });
    expect(again.written).toBe(journal.filter((r) => chosen.includes(r.seq) && r.kind === 'message').length);
    const back2 = loadCapture(join(root, 'chosen.jsonl'));
    if (!back2.ok) throw new Error(back2.error);
    expect(toRecords(back2.value.blocks()).map((r) => r.seq)).toEqual(journal.filter((r) => chosen.includes(r.seq) && r.kind === 'message').map((r) => r.seq));
    expect(await fail('trace.cancelExport')).toMatchObject({ code: 'not-found', method: 'trace.cancelExport', message: 'no export is running' });
  });

  it('opens the saved capture again, and gives the same answers when nearly everything is re-read from disk', async () => {
    const info = await call('capture.open', { path: captureDir });
    expect(info.count).toBe(journal.length);
    // Its saved analysis is used: no note, the same statistics and Expert report as the session's.
    expect(info.notes.filter((n) => n.includes(ANALYSIS_FILE))).toEqual([]);
    expect({ stats: await call('trace.stats'), expert: await call('trace.expert') }).toEqual(closedAnalysis);
    expect(await call('session.state')).toMatchObject({ connected: false, role: 'driver', source: 'capture', capture: captureDir });
    const rows = await allRows();
    const filtered = await allRows('dev == 1');
    const stats = await call('trace.stats', { filter: 'dev == 1' });
    const small = new WorkbenchService({ capturesDir: join(root, 'captures'), residentBytes: 4096 });
    const r = await small.handle('capture.open', { path: captureDir });
    if (!r.ok) throw new Error(r.error.message);
    expect((r.result as { residentBytes: number }).residentBytes).toBeLessThan(journal.reduce((n, x) => n + 64 + x.data.length, 0));
    const page = async (filter?: string) => {
      const got: unknown[] = [];
      for (;;) {
        const p = await small.handle('trace.rows', { from: got.length, count: 777, ...(filter ? { filter } : {}) });
        if (!p.ok) throw new Error(p.error.message);
        const res = p.result as WorkbenchResult<'trace.rows'>;
        got.push(...res.rows);
        if (got.length >= res.total) return got;
      }
    };
    expect(await page()).toEqual(rows);
    expect(await page('dev == 1')).toEqual(filtered);
    const s2 = await small.handle('trace.stats', { filter: 'dev == 1' });
    expect(s2.ok && s2.result).toEqual(stats);
    const last = journal[journal.length - 1]!;
    const d = await small.handle('trace.record', { seq: last.seq });
    expect(d.ok && (d.result as WorkbenchResult<'trace.record'>).row.seq).toBe(last.seq);
  });

  it('validates every request before it runs', async () => {
    expect((await fail('trace.rows', { from: -1, count: 10 })).field).toBe('params.from');
    expect((await fail('nope.nothing')).code).toBe('unknown-method');
    const v = await call('profile.validate', { text: '{"schema": "amp-board-profile/0",\n "id": "BAD"}', fileName: 'x.json' });
    expect(v.valid).toBe(false);
    if (!v.valid) expect(v.errors.find((e) => e.field === 'id')).toMatchObject({ line: 2 });
    expect((await call('boards.list')).boards.some((b) => b.default && b.simulated)).toBe(true);
  });
});

function savedCapture() {
  const o = openJournal(captureDir);
  if (!o.ok) throw new Error(o.error);
  return o.value;
}

describe('WorkbenchService: a connect that fails', () => {
  it('keeps the failed session’s trace in the captures folder and says where', async () => {
    const capturesDir = join(root, 'failed-captures');
    const failing = new WorkbenchService({ capturesDir });
    const profileText = JSON.stringify({ ...versalRaw, hostRole: 'device' });
    const r = await failing.handle('session.connect', { profileText, fileName: 'device.json' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const kept = /; (\d+) records? kept in (.*?)\. Check that/.exec(r.error.message);
    expect(kept, r.error.message).not.toBeNull();
    expect(kept![2]!.startsWith(capturesDir)).toBe(true);
    const o = openJournal(kept![2]!);
    if (!o.ok) throw new Error(o.error);
    const recs = toRecords(o.value.blocks());
    expect(recs).toHaveLength(Number(kept![1]));
    expect(new TextDecoder().decode(recs.at(-1)!.data)).toMatch(/hostRole "device"/);
    expect((await failing.handle('session.state', {})).ok).toBe(true);
    await failing.close();
  });
});
