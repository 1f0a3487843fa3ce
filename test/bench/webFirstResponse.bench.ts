/**
 * Web mode, engine side: from start to the first answer a page would get (server listening,
 * socket open, default simulated board connected, first page of trace rows), and scrolling a
 * 1,000,000-record trace through the service's TraceStore (rows pages at random places, a
 * filtered view built from scratch, a 1000-bucket window). Issue #4's target: first paint ≤ 2 s
 * after start; the renderer's part comes on top of `firstRowsMs`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

import { toRow } from '../../main/host/service/rows';
import { TraceStore } from '../../main/host/service/traceStore';
import { WorkbenchService } from '../../main/host/service/workbench';
import { startWebServer, WS_PATH } from '../../main/host/web/server';
import { encode } from '../../src/protocol/index';
import { BlockBuilder } from '../../src/trace/block';
import { CAPTURE_FORMAT, type CaptureMeta } from '../../src/trace/meta';
import { RECORD_FLAGS } from '../../src/trace/record';
import { memorySource } from '../../src/trace/source';

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function firstResponse(): Promise<Record<string, number>> {
  const root = mkdtempSync(join(tmpdir(), 'amp-web-bench-'));
  const t0 = process.hrtime.bigint();
  const service = new WorkbenchService({ capturesDir: root });
  const server = await startWebServer({ backend: service, log: () => undefined });
  const listeningMs = ms(t0);
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${WS_PATH}?token=${server.token}`);
  const replies = new Map<number, (m: unknown) => void>();
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as { id?: number };
    if (m.id !== undefined) replies.get(m.id)?.(m);
  });
  await new Promise((r) => ws.once('open', r));
  const socketMs = ms(t0);
  let id = 0;
  const call = (method: string, params: unknown) =>
    new Promise<unknown>((r) => {
      replies.set(++id, r);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call('session.connect', {});
  const connectedMs = ms(t0);
  await call('trace.rows', { from: 0, count: 50 });
  const firstRowsMs = ms(t0);
  ws.close();
  await service.close();
  await server.close();
  rmSync(root, { recursive: true, force: true });
  return { listeningMs, socketMs, connectedMs, firstRowsMs };
}

const RECORDS = 1_000_000;

function scroll(): Record<string, number> {
  const START = 1_000_000_000n;
  const req = encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 0, token: 1 });
  const resp = encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 0, token: 1, fields: { status: 15 } });
  // Chunks as the recorder hands them over: a few hundred records each.
  const builder = new BlockBuilder(32 << 10);
  for (let i = 0; i < RECORDS; i++) {
    const response = i % 2 === 1;
    const data = response ? resp : req;
    builder.appendRecord({
      kind: 'message',
      dir: response ? 'device-to-driver' : 'driver-to-device',
      rev: 'r4',
      seq: i,
      monoNs: START + BigInt(i) * 10_000n,
      wallNs: BigInt(i),
      channel: response ? 1 : 0,
      devNum: (i >> 1) % 4,
      msgType: data[0]!,
      msgId: data[1]!,
      token: 1,
      problems: 0,
      flags: response ? RECORD_FLAGS.response : RECORD_FLAGS.request,
      pairSeq: response ? i - 1 : null,
      latencyNs: response ? 10_000n : 0n,
      data,
    });
  }
  const blocks = builder.blocks();
  const meta: CaptureMeta = { format: CAPTURE_FORMAT, app: 'bench', board: 'bench', boardDescription: '', revision: 'r4', queueFormat: null, link: 'none', startWallNs: 0n, startMonoNs: START, notes: [] };
  let t0 = process.hrtime.bigint();
  const store = new TraceStore(memorySource('bench', meta, [], blocks));
  const indexMs = ms(t0);
  // 100 pages of 60 rows (a screenful) at scattered places, decoded as the table shows them.
  t0 = process.hrtime.bigint();
  for (let k = 0; k < 100; k++) {
    const r = store.rows(((k * 7919) % 16_000) * 60, 60);
    if (!r.ok) throw new Error(r.error);
    for (const p of r.value.positions) toRow(store.at(p)!, p, START);
  }
  const rowsPageMs = ms(t0) / 100;
  t0 = process.hrtime.bigint();
  const f = store.rows(RECORDS / 2, 60, 'dev == 1 && latency > 5us');
  if (!f.ok) throw new Error(f.error);
  const filterViewMs = ms(t0);
  t0 = process.hrtime.bigint();
  store.window({ fromNs: 0, toNs: RECORDS * 10_000, buckets: 1000, series: 'latency' });
  const windowMs = ms(t0);
  return { records: RECORDS, indexMs, rowsPageMs, filterViewMs, filterMatches: f.value.total, windowMs };
}

export async function run(): Promise<Record<string, number | string>> {
  return { ...(await firstResponse()), ...scroll() };
}
