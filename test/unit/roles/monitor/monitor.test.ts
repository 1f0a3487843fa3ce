import { describe, expect, it } from 'vitest';

import { encode } from '../../../../src/protocol/index';
import { indexRecords, toRecords } from '../../../../src/trace/block';
import { MARKER_KINDS, type TraceRecord } from '../../../../src/trace/record';
import { Recorder, type RecordChunkSink } from '../../../../src/trace/recorder';
import type { MessageQueue } from '../../../../src/bus/queue';
import type { RingTap, TapBatch } from '../../../../src/bus/tap';
import { Monitor } from '../../../../src/roles/monitor/monitor';
import { PollingTap } from '../../../../src/roles/monitor/pollTap';
import { observeRings } from '../../../../src/roles/monitor/rings';
import { attachPair, fastOpts, VirtualRuntime } from '../../bus/helpers';

class MemorySink implements RecordChunkSink {
  chunks: Uint8Array[] = [];
  writeChunk(payload: Uint8Array): void {
    this.chunks.push(payload.slice());
  }
  records(): TraceRecord[] {
    return toRecords(
      this.chunks.map((c) => {
        const idx = indexRecords(c);
        if (!idx.ok) throw new Error(idx.error);
        return idx.value;
      }),
    );
  }
}

const text = (r: TraceRecord): string => new TextDecoder().decode(r.data);
const markers = (rs: TraceRecord[], kind: (typeof MARKER_KINDS)[number]) => rs.filter((r) => r.kind === 'marker' && MARKER_KINDS[r.msgId] === kind).map(text);

async function setup() {
  const runtime = new VirtualRuntime();
  const { driver, device, window } = await attachPair('vmamp-shmem-v1', undefined, undefined, runtime);
  const sink = new MemorySink();
  const recorder = new Recorder({ runtime, sink, revision: 'r4', startMonoNs: 0n, startWallNs: 0n });
  const observed = await observeRings('vmamp-shmem-v1', window, {}, fastOpts(runtime));
  if (!observed.ok) throw new Error(observed.error.reason);
  const monitor = new Monitor(observed.value, new PollingTap(window, { runtime, pollMs: 1 }), { revision: 'r4', recorder, runtime, window, startMonoNs: 0n });
  return { runtime, driver, device, sink, recorder, monitor };
}

/** One GET_DEVICE_STATUS round trip: the driver asks, the device answers. */
async function roundTrip(driver: MessageQueue, device: MessageQueue, token: number): Promise<void> {
  await driver.send(encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token }));
  await device.recv();
  await device.send(encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token, fields: { status: 0xf } }));
  await driver.recv();
}

describe('Monitor', () => {
  it('records both directions paired, says it joined a running bus and what it could not see', async () => {
    const { runtime, driver, device, sink, recorder, monitor } = await setup();
    await roundTrip(driver, device, 1);
    await monitor.start();
    for (let t = 2; t < 12; t++) {
      await roundTrip(driver, device, t);
      await runtime.sleep(2);
    }
    await monitor.stop();
    recorder.close();
    const rs = sink.records();
    const joined = markers(rs, 'note');
    expect(joined).toHaveLength(1);
    expect(joined[0]).toMatch(/^joined mid-session: the bus was already in use \(driver→device producer 1, consumer 1; device→driver producer 1, consumer 1; heads: driver RUN, device RUN\)\. Not seen: .*GET_DEVICES/);
    const messages = rs.filter((r) => r.kind === 'message');
    expect(messages).toHaveLength(20);
    expect(messages.map((m) => m.token)).toEqual([2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11]);
    // Each response carries its request's seq.
    for (let i = 0; i < messages.length; i += 2) expect(messages[i + 1]!.pairSeq).toBe(messages[i]!.seq);
    expect(markers(rs, 'dropped')).toEqual([]);
    expect(monitor.totals).toEqual({ messages: [10, 10], dropped: [0, 0] });
    expect(monitor.devices().map((d) => [d.devNum, d.status])).toEqual([[1, 0xf]]);
  });

  it('writes a DROPPED marker with the exact count and the time window of a batch that lost messages', async () => {
    const { runtime, sink, recorder } = await setup();
    const { window } = await attachPair('spsc-v1', undefined, undefined, runtime);
    const observed = await observeRings('spsc-v1', window, { driverQueueOffset: 0x1000, deviceQueueOffset: 0x2000 }, fastOpts(runtime));
    if (!observed.ok) throw new Error(observed.error.reason);
    const slot = new Uint8Array(64);
    slot.set(encode('r4', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } }));
    const batches: TapBatch[] = [
      { ring: 1, first: 5, count: 1, slots: slot, lost: 0, seenNs: 2_000_000n },
      { ring: 1, first: 40, count: 1, slots: slot, lost: 29, seenNs: 7_500_000n },
      { ring: 1, first: 41, count: 1, slots: slot, lost: 3, seenNs: 9_000_000n, previousLookNs: 8_800_000n, unread: { fromNs: 8_800_000n, toNs: 9_000_000n } },
      // Its index not read for 30 ms: said, since a lap in that time would leave no trace; also
      // when the looks themselves came in time (the thread was held up inside one).
      { ring: 0, first: 0, count: 0, slots: new Uint8Array(0), lost: 0, seenNs: 40_000_000n, previousLookNs: 39_980_000n, unread: { fromNs: 10_000_000n, toNs: 40_000_000n } },
      // Two more within the second: held, then said together at stop.
      { ring: 0, first: 0, count: 0, slots: new Uint8Array(0), lost: 0, seenNs: 300_000_000n, previousLookNs: 299_980_000n, unread: { fromNs: 200_000_000n, toNs: 205_000_000n } },
      { ring: 0, first: 0, count: 0, slots: new Uint8Array(0), lost: 0, seenNs: 600_000_000n, previousLookNs: 599_980_000n, unread: { fromNs: 500_000_000n, toNs: 520_000_000n } },
    ];
    const tap: RingTap = {
      start: (_rings, onBatch) => batches.forEach(onBatch),
      stop: () => Promise.resolve(),
    };
    const monitor = new Monitor(observed.value, tap, { revision: 'r4', recorder, runtime, window, startMonoNs: 0n });
    await monitor.start();
    await monitor.stop();
    recorder.close();
    const rs = sink.records();
    expect(markers(rs, 'dropped')).toEqual([
      '29 device→driver messages lost: the producer reused their slots before the monitor copied them (producer index 11 to 39, N = 62), published between 2.000 ms and 7.500 ms into the capture',
      '3 device→driver messages lost: the producer reused their slots before the monitor copied them (producer index 38 to 40, N = 62), published between 8.800 ms and 9.000 ms into the capture',
    ]);
    expect(markers(rs, 'note')).toEqual([
      'the monitor could not look at the driver→device ring between 10.000 ms and 40.000 ms (the host did not run it); had the producer published more than 61 messages in that time, the ring\'s indices (N = 62) could not show it and they are missing without a DROPPED count',
      'the monitor could not look at the driver→device ring for 2 ms or more at least 2 times between 200.000 ms and 520.000 ms, the longest from 500.000 ms to 520.000 ms (the host did not run it); had the producer published more than 61 messages in one of those times, the ring\'s indices (N = 62) could not show it and they are missing without a DROPPED count',
    ]);
    // Each DROPPED marker sits where its messages were lost: after the earlier messages, before the batch's own.
    expect(rs.filter((r) => r.kind === 'message' || (r.kind === 'marker' && MARKER_KINDS[r.msgId] === 'dropped')).map((r) => r.kind)).toEqual(['message', 'marker', 'message', 'marker', 'message']);
    expect(rs.filter((r) => r.kind === 'message')).toHaveLength(3);
    expect(monitor.totals).toEqual({ messages: [0, 3], dropped: [0, 32] });
  });

  it('spsc: a producer index back at 0 over slots that hold no new message is a restart, said once; new messages across 0 are not', async () => {
    const { runtime, sink, recorder } = await setup();
    const { window } = await attachPair('spsc-v1', undefined, undefined, runtime);
    const observed = await observeRings('spsc-v1', window, { driverQueueOffset: 0x1000, deviceQueueOffset: 0x2000 }, fastOpts(runtime));
    if (!observed.ok) throw new Error(observed.error.reason);
    const n = 62;
    /** Slots of EVENT_AVAIL messages numbered from `from`, or of zeroes. */
    const slots = (from: number, count: number, zero = false) => {
      const out = new Uint8Array(count * 64);
      for (let k = 0; k < count && !zero; k++) out.set(encode('r4', { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: from + k } }), k * 64);
      return out;
    };
    const ms = (x: number) => BigInt(x) * 1_000_000n;
    const batches: TapBatch[] = [
      { ring: 0, first: 0, count: 60, slots: slots(0, 60), lost: 0, seenNs: ms(1) },
      // After standing still, new messages into slots 60, 61 and 0: taken, whatever the wait.
      { ring: 0, first: 60, count: 3, slots: slots(60, 3), lost: 0, seenNs: ms(200) },
      { ring: 0, first: 1, count: 10, slots: slots(63, 10), lost: 0, seenNs: ms(201) },
    ];
    // The driver restarts: slots 11..59 as the first lap left them, 60 and 61 wiped, then 2 new messages from 0.
    const restart = new Uint8Array((n - 11 + 2) * 64);
    restart.set(slots(0, 60).subarray(11 * 64), 0);
    restart.set(slots(100, 2), (n - 11) * 64);
    batches.push({ ring: 0, first: 11, count: n - 11 + 2, slots: restart, lost: 0, seenNs: ms(900) });
    const tap: RingTap = { start: (_rings, onBatch) => batches.forEach(onBatch), stop: () => Promise.resolve() };
    const monitor = new Monitor(observed.value, tap, { revision: 'r4', recorder, runtime, window, startMonoNs: 0n });
    await monitor.start();
    await monitor.stop();
    recorder.close();
    const rs = sink.records();
    expect(markers(rs, 'note')).toEqual([
      'monitor: the driver side restarted (spsc-v1 has no status word): its driver→device ring stood still from 201.000 ms, then its producer index went from 11 back to 0; slots 11 to 61 hold no new message (unchanged or wiped) and are not taken for 51 new ones',
    ]);
    expect(monitor.totals.messages).toEqual([60 + 3 + 10 + 2, 0]);
    const offsets = rs.filter((r) => r.kind === 'message').map((r) => new DataView(r.data.buffer, r.data.byteOffset).getUint32(12, true));
    expect(offsets.slice(-4)).toEqual([71, 72, 100, 101]);
  });

  it('follows the rings afresh when a side re-initialises its queue head, and records the head states', async () => {
    const { runtime, sink, recorder } = await setup();
    const { window } = await attachPair('vmamp-shmem-v1', undefined, undefined, runtime);
    const found = await observeRings('vmamp-shmem-v1', window, {}, fastOpts(runtime));
    if (!found.ok) throw new Error(found.error.reason);
    const script = [
      { driver: 'RUN', device: 'RUN', running: true, reset: false },
      { driver: 'INIT', device: 'RUN', running: false, reset: true },
      { driver: 'RUN', device: 'RUN', running: true, reset: false },
    ];
    let step = 0;
    const observed = { ...found.value, states: () => Promise.resolve(script[Math.min(step++, script.length - 1)]!) };
    let starts = 0;
    let stops = 0;
    const tap: RingTap = {
      start: () => void starts++,
      stop: () => {
        stops++;
        return Promise.resolve();
      },
    };
    const monitor = new Monitor(observed, tap, { revision: 'r4', recorder, runtime, window, startMonoNs: 0n, statePollMs: 5 });
    await monitor.start();
    await runtime.sleep(30);
    await monitor.stop();
    recorder.close();
    expect(starts).toBe(2);
    expect(stops).toBe(2);
    const rs = sink.records();
    expect(markers(rs, 'note').filter((t) => t.startsWith('monitor: a side'))).toEqual(['monitor: a side re-initialised its queue head (heads: driver INIT, device RUN); following the rings afresh']);
    const states = rs.filter((r) => r.kind === 'queue-state').map(text).filter((t) => t.startsWith('monitor: heads'));
    expect(states).toEqual(['monitor: heads: driver RUN, device RUN', 'monitor: heads: driver INIT, device RUN', 'monitor: heads: driver RUN, device RUN']);
  });
});
