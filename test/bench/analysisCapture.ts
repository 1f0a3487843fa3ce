/**
 * A device at work as the analysis benchmarks need it, ten records a cycle: a GET_CONFIG request
 * and its paired response, a vq-index record publishing a buffer, EVENT_AVAIL, a doorbell,
 * EVENT_USED, the vq-index record where used.idx reaches it, a second GET_CONFIG request and
 * response, and every 1000th cycle a bookmark (else a second doorbell): four requests' records in
 * ten, more than a virtqueue workload makes, so the request side is not flattered. Records are encoded once
 * and patched per cycle (seq, times, token, pair, indexes), 1 µs apart.
 */
import { encodeRecord, RECORD_OFFSET, type TraceRecord } from '../../src/trace/record';
import { SampleBuilder } from '../unit/trace/sample';

export const PER_CYCLE = 10;
const RESPONSE_NS = 20_000n;

function templates(): Uint8Array[] {
  const b = new SampleBuilder();
  b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 1, fields: { offset: 0, length: 4 } } });
  b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 1, fields: { generation: 1, offset: 0, length: 4, data: Uint8Array.of(1, 2, 3, 4) } } });
  b.vqIndex(1, 0, 1, 0);
  b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } } });
  b.doorbell('driver-to-device');
  b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } } });
  b.vqIndex(1, 0, 1, 1);
  b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 2, fields: { offset: 4, length: 4 } } });
  b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 2, fields: { generation: 1, offset: 4, length: 4, data: Uint8Array.of(5, 6, 7, 8) } } });
  b.doorbell('device-to-driver');
  const marker = new SampleBuilder();
  marker.marker('bookmark', 'bench');
  return [...b.records, marker.records[0]!].map((r: TraceRecord) => encodeRecord(r));
}

const T = templates();
const AT_DATA = RECORD_OFFSET.latencyNs + 8;

/** Records [from, from + n) (from a multiple of PER_CYCLE), back to back. */
export function workRecords(from: number, n: number): Uint8Array {
  let total = 0;
  const pick = (i: number): Uint8Array => (i % PER_CYCLE === 9 && Math.floor(i / PER_CYCLE) % 1000 === 0 ? T[10]! : T[i % PER_CYCLE]!);
  for (let i = from; i < from + n; i++) total += pick(i).length;
  const bytes = new Uint8Array(total);
  const dv = new DataView(bytes.buffer);
  let o = 0;
  for (let i = from; i < from + n; i++) {
    const t = pick(i);
    bytes.set(t, o);
    const k = i % PER_CYCLE;
    const cycle = Math.floor(i / PER_CYCLE);
    dv.setBigUint64(o + RECORD_OFFSET.seq, BigInt(i), true);
    dv.setBigUint64(o + RECORD_OFFSET.monoNs, 5_000_000_000n + BigInt(i) * 1000n, true);
    dv.setBigUint64(o + RECORD_OFFSET.wallNs, 1_763_700_000_000_000_000n + BigInt(i) * 1000n, true);
    const token = ((cycle * 2) % 0xfffe) + 1 + (k >= 7 ? 1 : 0);
    if (k === 0 || k === 1 || k === 7 || k === 8) {
      dv.setUint16(o + RECORD_OFFSET.token, token, true);
      dv.setUint16(o + AT_DATA + 4, token, true);
    }
    if (k === 1 || k === 8) {
      dv.setBigUint64(o + RECORD_OFFSET.pairSeq, BigInt(i - 1), true);
      dv.setBigUint64(o + RECORD_OFFSET.latencyNs, RESPONSE_NS, true);
    }
    // vq-index: avail.idx = cycle + 1 once published; used.idx reaches it at k = 6.
    if (k === 2 || k === 6) {
      dv.setUint16(o + AT_DATA, (cycle + 1) & 0xffff, true);
      dv.setUint16(o + AT_DATA + 2, (k === 6 ? cycle + 1 : cycle) & 0xffff, true);
    }
    o += t.length;
  }
  return bytes;
}
