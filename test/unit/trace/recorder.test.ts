import { describe, expect, it } from 'vitest';

import { encode } from '../../../src/protocol/index';
import { toRecords, type RecordBlock } from '../../../src/trace/block';
import { indexRecords } from '../../../src/trace/block';
import { describeRecord } from '../../../src/trace/describe';
import { BUFFER_BYTES_MAX, decodeBuffer, decodeVqIndex, encodeRecord, problemCodes, RECORD_FLAGS, type TraceRecord } from '../../../src/trace/record';
import { toHex } from '../../../src/util/hex';
import { Recorder, type RecordChunkSink } from '../../../src/trace/recorder';
import { FakeClock } from './fakeClock';

class MemorySink implements RecordChunkSink {
  chunks: { payload: Uint8Array; count: number; firstSeq: number }[] = [];
  failing: string | null = null;
  writeChunk(payload: Uint8Array, count: number, firstSeq: number): void {
    if (this.failing) throw new Error(this.failing);
    this.chunks.push({ payload: payload.slice(), count, firstSeq });
  }
  records(): TraceRecord[] {
    const blocks: RecordBlock[] = this.chunks.map((c) => {
      const idx = indexRecords(c.payload);
      if (!idx.ok) throw new Error(idx.error);
      expect(idx.value.offsets.length).toBe(c.count);
      return idx.value;
    });
    return toRecords(blocks);
  }
}

function setup(opts: { timeoutMs?: number; chunkBytes?: number } = {}) {
  const clock = new FakeClock();
  const sink = new MemorySink();
  const rec = new Recorder({ runtime: clock, sink, revision: 'r4', maxMessageSize: 128, responseTimeoutMs: opts.timeoutMs ?? 1000, ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}) });
  return { clock, sink, rec };
}

const req = (token: number, devNum = 1) => encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum, token });
const resp = (token: number, devNum = 1) => encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum, token, fields: { status: 15 } });

describe('Recorder', () => {
  it('pairs a response with its request by token and gives the latency', () => {
    const { clock, sink, rec } = setup();
    rec.message('driver-to-device', req(7));
    clock.advance(0.25);
    rec.message('device-to-driver', resp(7));
    rec.flush();
    const [q, r] = sink.records();
    expect(q!.flags & RECORD_FLAGS.request).toBeTruthy();
    expect(r!.pairSeq).toBe(q!.seq);
    expect(r!.latencyNs).toBe(250_000n);
    expect(r!.problems).toBe(0);
    expect(r!.wallNs - q!.wallNs).toBe(250_000n);
    expect(describeRecord(r!).summary).toMatch(/^GET_DEVICE_STATUS dev 1 token 0x0007/);
  });

  it('matches a response whose token was not echoed by (dev_num, msg_id) and flags it', () => {
    const { sink, rec } = setup();
    rec.message('driver-to-device', req(7));
    rec.message('device-to-driver', resp(0));
    rec.flush();
    const r = sink.records()[1]!;
    expect(r.pairSeq).toBe(0);
    expect(r.flags & RECORD_FLAGS.tokenFallback).toBeTruthy();
    expect(problemCodes(r.problems)).toEqual(['token-mismatch']);
  });

  it('flags a response that answers nothing, and records malformed bytes with their problems', () => {
    const { sink, rec } = setup();
    rec.message('device-to-driver', resp(9));
    rec.message('device-to-driver', new Uint8Array([0x01, 0x0c]));
    rec.flush();
    const [a, b] = sink.records();
    expect(problemCodes(a!.problems)).toEqual(['unmatched-response']);
    expect(a!.pairSeq).toBeNull();
    expect(b!.flags & RECORD_FLAGS.noHeader).toBeTruthy();
    expect(problemCodes(b!.problems)).toContain('truncated');
    expect(b!.data).toEqual(new Uint8Array([0x01, 0x0c]));
  });

  it('writes a no-response marker at the timeout, and links a late answer to it', () => {
    const { clock, sink, rec } = setup({ timeoutMs: 50 });
    rec.message('driver-to-device', req(3, 2));
    clock.advance(120);
    rec.message('device-to-driver', resp(3, 2));
    rec.flush();
    const recs = sink.records();
    const marker = recs.find((r) => r.kind === 'marker')!;
    expect(marker.pairSeq).toBe(0);
    expect(problemCodes(marker.problems)).toEqual(['no-response']);
    expect(marker.monoNs - recs[0]!.monoNs).toBe(50_000_000n);
    expect(describeRecord(marker).summary).toBe('NO_RESPONSE dev 2 no response to GET_DEVICE_STATUS (dev_num 2, token 0x0003) within 50 ms (record 0)');
    const late = recs.find((r) => r.kind === 'message' && r.seq !== 0)!;
    expect(late.pairSeq).toBe(marker.seq);
    expect(late.flags & RECORD_FLAGS.late).toBeTruthy();
    expect(problemCodes(late.problems)).toEqual(['late']);
  });

  it('pairs requests that reuse a token in request order, and flags only the one left unanswered', () => {
    const { clock, sink, rec } = setup({ timeoutMs: 50 });
    rec.message('driver-to-device', req(1)); // seq 0
    clock.advance(1);
    rec.message('driver-to-device', req(1)); // seq 1: same token while seq 0 is outstanding
    clock.advance(1);
    rec.message('driver-to-device', req(1)); // seq 2
    rec.message('device-to-driver', resp(1)); // answers seq 0
    rec.message('device-to-driver', resp(1)); // answers seq 1
    clock.advance(100);
    rec.flush();
    const recs = sink.records();
    expect(recs[3]!.pairSeq).toBe(0);
    expect(recs[3]!.latencyNs).toBe(2_000_000n);
    expect(recs[4]!.pairSeq).toBe(1);
    expect(recs[4]!.latencyNs).toBe(1_000_000n);
    const markers = recs.filter((r) => r.kind === 'marker');
    expect(markers.map((m) => m.pairSeq)).toEqual([2]);
  });

  it('links a late answer that does not echo the token to the marker, and marks it late', () => {
    const { clock, sink, rec } = setup({ timeoutMs: 50 });
    rec.message('driver-to-device', req(5));
    clock.advance(120);
    rec.message('device-to-driver', resp(0));
    rec.flush();
    const recs = sink.records();
    const marker = recs.find((r) => r.kind === 'marker')!;
    const late = recs.find((r) => r.kind === 'message' && r.seq !== 0)!;
    expect(late.pairSeq).toBe(marker.seq);
    expect(late.flags & RECORD_FLAGS.late).toBeTruthy();
    expect(late.flags & RECORD_FLAGS.tokenFallback).toBeTruthy();
    expect(problemCodes(late.problems)).toEqual(['token-mismatch', 'late']);
  });

  it('flushes at least every 100 ms without being asked', () => {
    const { clock, sink, rec } = setup();
    rec.message('driver-to-device', req(1));
    expect(sink.chunks).toHaveLength(0);
    clock.advance(100);
    expect(sink.chunks).toHaveLength(1);
    rec.close();
  });

  it('writes a full chunk at once and keeps seq gap-free across chunks', () => {
    const { sink, rec } = setup({ chunkBytes: 1024 });
    for (let i = 0; i < 100; i++) rec.message('driver-to-device', req(i + 1));
    rec.flush();
    expect(sink.chunks.length).toBeGreaterThan(5);
    expect(sink.records().map((r) => r.seq)).toEqual([...Array(100).keys()]);
    for (let i = 1; i < sink.chunks.length; i++) expect(sink.chunks[i]!.firstSeq).toBe(sink.chunks[i - 1]!.firstSeq + sink.chunks[i - 1]!.count);
  });

  it('keeps chunks while the sink fails and writes them in order when it recovers', () => {
    const { sink, rec } = setup();
    sink.failing = 'EIO: disk gone';
    rec.message('driver-to-device', req(1));
    rec.flush();
    rec.message('driver-to-device', req(2));
    rec.flush();
    expect(rec.error).toBe('EIO: disk gone');
    sink.failing = null;
    rec.flush();
    expect(rec.error).toBeNull();
    expect(sink.records().map((r) => r.token)).toEqual([1, 2]);
  });

  it('counts records lost beyond the backlog limit and says so with a dropped marker', () => {
    const clock = new FakeClock();
    const sink = new MemorySink();
    const rec = new Recorder({ runtime: clock, sink, revision: 'r4', maxBacklogBytes: 200 });
    sink.failing = 'ENOSPC';
    for (let i = 0; i < 5; i++) {
      rec.message('driver-to-device', req(i + 1));
      rec.flush();
    }
    expect(rec.lostCount).toBeGreaterThan(0);
    sink.failing = null;
    rec.flush();
    rec.flush();
    const recs = sink.records();
    const dropped = recs.find((r) => r.kind === 'marker')!;
    const kept = recs.filter((r) => r.kind === 'message').length;
    expect(new TextDecoder().decode(dropped.data)).toBe(`${5 - kept} records lost while the trace sink failed`);
  });

  it('records doorbells, queue states, ring indices and markers', () => {
    const { sink, rec } = setup();
    rec.doorbell('driver-to-device');
    rec.queueState('ready: peer attached');
    rec.vqIndex(1, 0, { availIdx: 5, usedIdx: 3, lastSeenUsed: 3, inFlight: 2 });
    rec.marker('bookmark', 'before reset');
    rec.flush();
    const [d, q, v, m] = sink.records();
    expect(d!.kind).toBe('doorbell');
    expect(d!.dir).toBe('driver-to-device');
    expect(new TextDecoder().decode(q!.data)).toBe('ready: peer attached');
    expect(decodeVqIndex(v!.data)).toEqual({ availIdx: 5, usedIdx: 3, lastSeenUsed: 3, inFlight: 2 });
    expect(v!.devNum).toBe(1);
    expect(describeRecord(m!).summary).toBe('BOOKMARK before reset');
  });

  it('records a buffer straight into the chunk: the golden bytes, the full length kept beside the first 256 bytes', () => {
    const clock = new FakeClock();
    const sink = new MemorySink();
    const rec = new Recorder({ runtime: clock, sink, revision: 'r4', startMonoNs: clock.nowNs, startWallNs: 0x1122_3344_5566_7788n });
    rec.buffer('driver-to-device', 3, 1, 5, 4, new TextEncoder().encode('ABCD'));
    const big = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    rec.buffer('device-to-driver', 3, 1, 5, 290, big);
    rec.flush();
    const golden = [
      '4c000000 01 06 01 00', // length 76, version 1, kind buffer, dir driver-to-device, rev none
      '0000000000000000', // seq
      '00ca9a3b00000000', // monoNs
      '8877665544332211', // wallNs
      '0100 0300 00 00 0000', // channel: virtqueue 1, devNum 3, msgType, msgId, token
      '00000000 00000000', // problems, flags
      'ffffffffffffffff', // pairSeq: none
      '0000000000000000', // latencyNs
      '04000000 0500 0000 41424344', // BUFFER_DATA: length 4, head 5, zero, "ABCD"
    ]
      .map((l) => l.replace(/\/\/.*/, '').replaceAll(' ', ''))
      .join('');
    const payload = sink.chunks[0]!.payload;
    expect(Buffer.from(payload.subarray(0, 76)).toString('hex')).toBe(golden);
    const [small, used] = sink.records();
    expect(toHex(encodeRecord(small!))).toBe(toHex(payload.subarray(0, 76)));
    expect(decodeBuffer(used!.data)).toEqual({ length: 290, head: 5, bytes: big.subarray(0, BUFFER_BYTES_MAX) });
    expect(used!.data.length).toBe(8 + 256);
    expect([used!.dir, used!.channel, used!.devNum]).toEqual(['device-to-driver', 1, 3]);
    expect([describeRecord(small!).summary, describeRecord(small!).detail]).toEqual(['BUFFER dev 3 q1 head 5 published: 4 bytes', 'q1 head 5 published: 4 bytes 41424344 "ABCD"']);
    expect(describeRecord(used!).detail).toBe('q1 head 5 used: 290 bytes (first 256 kept) 000102030405060708090a0b0c0d0e0f… "................…"');
  });
});
