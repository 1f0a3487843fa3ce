/**
 * The transaction index against a capture written out by hand: request transactions end at their
 * response or NO_RESPONSE marker; a virtqueue operation runs from EVENT_AVAIL through EVENT_USED to
 * the vq-index record whose used.idx covers the avail.idx published before the notification, with
 * the latency between, per queue.
 */
import { describe, expect, it } from 'vitest';
import { fromRecords, forEachRecord } from '../../../src/trace/block';
import { TransactionIndex } from '../../../src/trace/transactions';
import { SampleBuilder, START_MONO_NS } from './sample';

const NS = 12_345;

function indexOf(b: SampleBuilder): TransactionIndex {
  const index = new TransactionIndex(START_MONO_NS);
  let p = 0;
  forEachRecord(fromRecords(b.records), (v) => index.add(v, p++));
  return index;
}

const avail = (b: SampleBuilder, devNum: number, vq: number): void =>
  void b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'EVENT_AVAIL', kind: 'event', devNum, fields: { vq_index: vq, next_offset: 0 } } });
const used = (b: SampleBuilder, devNum: number, vq: number): void => void b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'EVENT_USED', kind: 'event', devNum, fields: { vq_index: vq } } });

describe('TransactionIndex', () => {
  it('ends a request transaction at its response or its NO_RESPONSE marker, not at unpaired responses', () => {
    const b = new SampleBuilder();
    b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_CONFIG', kind: 'request', devNum: 1, token: 5, fields: { offset: 0, length: 4 } } }); // 0
    b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_CONFIG', kind: 'response', devNum: 1, token: 5, fields: { generation: 1, offset: 0, length: 4, data: Uint8Array.of(1, 2, 3, 4) } } }); // 1
    b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 6 } }); // 2
    b.marker('no-response', 'GET_DEVICE_STATUS timed out', 1, 2); // 3
    b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 9, fields: { status: 0 } } }); // 4: unmatched
    const index = indexOf(b);
    expect(index.requests).toBe(2);
    expect(Array.from(index.ends.data.subarray(0, index.requests))).toEqual([1, 3]);
  });

  it('follows a virtqueue operation from EVENT_AVAIL through EVENT_USED to its used entries, with its latency', () => {
    const b = new SampleBuilder();
    b.vqIndex(1, 0, 0, 0); // 0: queue known
    b.vqIndex(1, 0, 2, 0); // 1: two buffers made available
    avail(b, 1, 0); // 2: op 0, waits for used.idx 2
    b.vqIndex(1, 0, 3, 0); // 3: one more
    avail(b, 1, 0); // 4: op 1, waits for used.idx 3
    used(b, 1, 0); // 5: EVENT_USED for op 0
    b.vqIndex(1, 0, 3, 2); // 6: used.idx 2 covers op 0
    used(b, 1, 0); // 7: EVENT_USED for op 1
    b.vqIndex(1, 0, 3, 3); // 8: op 1 done
    avail(b, 1, 1); // 9: another queue, still in flight
    const index = indexOf(b);
    expect(index.operations).toBe(3);
    expect(index.operation(0)).toEqual({ dev: 1, queue: 0, availPosition: 2, eventUsedPosition: 5, usedEntryPosition: 6, entries: 2, availNs: 2 * NS, doneNs: 6 * NS });
    expect(index.operation(1)).toEqual({ dev: 1, queue: 0, availPosition: 4, eventUsedPosition: 7, usedEntryPosition: 8, entries: 1, availNs: 4 * NS, doneNs: 8 * NS });
    expect(index.operation(2)).toMatchObject({ dev: 1, queue: 1, eventUsedPosition: -1, usedEntryPosition: -1, entries: 0, doneNs: null });
    const [q] = index.queueLatency();
    expect(q).toMatchObject({ dev: 1, queue: 0, operations: 2, count: 2, minNs: 4 * NS, maxNs: 4 * NS, p50Ns: 4 * NS });
    expect(index.queueLatency()).toBe(index.queueLatency());
  });

  it('completes operations of a driver it never saw publish (no vq-index before) one used step at a time, and across the 16-bit wrap', () => {
    const b = new SampleBuilder();
    avail(b, 2, 0); // 0: target unknown
    b.vqIndex(2, 0, 0xffff, 0xfffe); // 1: first sight: nothing moved yet
    used(b, 2, 0); // 2: op 0 done by its EVENT_USED for now
    b.vqIndex(2, 0, 0x0001, 0xffff); // 3: used moved: completes op 0
    avail(b, 2, 0); // 4: op 1 waits for used.idx 0x0001 (past the wrap)
    b.vqIndex(2, 0, 0x0001, 0x0000); // 5: not yet
    b.vqIndex(2, 0, 0x0001, 0x0001); // 6: done
    const index = indexOf(b);
    expect(index.operation(0)).toMatchObject({ eventUsedPosition: 2, usedEntryPosition: 3, doneNs: 3 * NS });
    expect(index.operation(1)).toMatchObject({ usedEntryPosition: 6, entries: 1, doneNs: 6 * NS });
  });
});
