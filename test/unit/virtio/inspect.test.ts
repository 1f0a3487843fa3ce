import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inspectRing, readDescriptorBuffer } from '../../../src/virtio/inspect';
import { encodeDescriptor, VIRTQ_DESC_F_NEXT } from '../../../src/virtio/layout';
import { buffer, bytes, PEER_BASE, ringPair, type RingPair } from './helpers';

const params = (pair: RingPair, eventIdx = false) => ({
  size: pair.driver.size,
  descAddr: pair.driver.descAddr,
  driverAddr: pair.driver.driverAddr,
  deviceAddr: pair.driver.deviceAddr,
  eventIdx,
});

describe('inspectRing', () => {
  it('shows idx, flags, in-flight chains and uncollected used entries as QEMU names them', async () => {
    const pair = await ringPair(8);
    const a = pair.driver.addChain([buffer(pair, { data: bytes(1, 2, 3) }), buffer(pair, { writable: 5 })]);
    const b = pair.driver.addChain([buffer(pair, { writable: 7 })]);
    if (!a.ok || !b.ok) throw new Error('addChain');
    await pair.driver.publish();
    const first = await pair.device.popAvail();
    if (!first?.ok) throw new Error('pop');
    await pair.device.pushUsed(first.value.head, 5);

    const state = await inspectRing(pair.window, pair.translate, params(pair), pair.driver.lastSeenUsed);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state); // plain JSON
    expect(state.avail).toEqual({ flags: 0, flagNames: '', idx: 2, used_event: null });
    expect(state.used).toEqual({ flags: 0, flagNames: '', idx: 1, avail_event: null });
    expect(state.lastSeenUsed).toBe(0);
    expect(state.inFlight).toBe(1);
    expect(state.descAddr).toBe('0x' + pair.driver.descAddr.toString(16));
    expect(state.descriptors).toHaveLength(8);
    expect(state.descriptors[0]).toMatchObject({ index: 0, len: 3, flags: 'NEXT', next: 1 });
    expect(state.descriptors[1]).toMatchObject({ index: 1, len: 5, flags: 'WRITE' });
    expect(state.descriptors[2]).toMatchObject({ index: 2, len: 7, flags: 'WRITE' });
    expect(state.chains).toEqual([{ availSlot: 1, head: b.value, descriptors: [2], readableBytes: 0, writableBytes: 7 }]);
    expect(state.usedNotSeen).toEqual([{ slot: 0, id: a.value, len: 5 }]);
    expect(state.problems).toEqual([]);

    await pair.driver.collectUsed();
    const after = await inspectRing(pair.window, pair.translate, params(pair), pair.driver.lastSeenUsed);
    expect(after.usedNotSeen).toEqual([]);
  });

  it('describes the chains the device returned last, newest first, and reads a descriptor’s buffer', async () => {
    const pair = await ringPair(8);
    const a = pair.driver.addChain([buffer(pair, { data: bytes(0x48, 0x69, 0x00) }), buffer(pair, { writable: 5 })]);
    const b = pair.driver.addChain([buffer(pair, { writable: 7 })]);
    if (!a.ok || !b.ok) throw new Error('addChain');
    await pair.driver.publish();
    expect((await inspectRing(pair.window, pair.translate, params(pair))).recent).toEqual([]);
    for (const len of [5, 7]) {
      const popped = await pair.device.popAvail();
      if (!popped?.ok) throw new Error('pop');
      await pair.device.pushUsed(popped.value.head, len);
    }
    const state = await inspectRing(pair.window, pair.translate, params(pair));
    expect(state.chains).toEqual([]);
    expect(state.recent).toEqual([
      { slot: 1, id: b.value, len: 7, descriptors: [2], readableBytes: 0, writableBytes: 7 },
      { slot: 0, id: a.value, len: 5, descriptors: [0, 1], readableBytes: 3, writableBytes: 5 },
    ]);
    // A returned chain is not a ring problem even when its descriptors no longer chain up.
    pair.window.storeSync(pair.driver.offsets.used + 4 + 8 * 1, 32, 9);
    const odd = await inspectRing(pair.window, pair.translate, params(pair));
    expect(odd.recent[0]).toMatchObject({ id: 9, descriptors: [], problem: expect.stringMatching(/expected a descriptor index < 8, saw 9$/) });
    expect(odd.problems).toEqual([]);

    const buf = await readDescriptorBuffer(pair.window, pair.translate, params(pair), 0, 4096);
    expect(buf.ok && { ...buf.value, bytes: [...buf.value.bytes] }).toMatchObject({ index: 0, len: 3, flags: 'NEXT', bytes: [0x48, 0x69, 0x00], truncated: false });
    const capped = await readDescriptorBuffer(pair.window, pair.translate, params(pair), 1, 2);
    expect(capped.ok && [capped.value.bytes.length, capped.value.truncated, capped.value.len]).toEqual([2, true, 5]);
    expect(await readDescriptorBuffer(pair.window, pair.translate, params(pair), 8, 16)).toEqual({ ok: false, error: 'descriptor 8 is outside the table (size 8, indices 0..7)' });
    pair.window.writeSync(pair.driver.offsets.desc + 16 * 2, encodeDescriptor({ addr: 0x10n, len: 4, flags: 0, next: 0 }));
    expect(await readDescriptorBuffer(pair.window, pair.translate, params(pair), 2, 16)).toEqual({ ok: false, error: 'descriptor 2 points outside the data window: 0x10 + 4 bytes' });
  });

  it('shows used_event / avail_event with event idx', async () => {
    const pair = await ringPair(8, { eventIdx: true });
    await pair.driver.setUsedEvent(3);
    pair.window.storeSync(pair.driver.offsets.used + 4 + 8 * 8, 16, 4);
    const state = await inspectRing(pair.window, pair.translate, params(pair, true));
    expect(state.avail?.used_event).toBe(3);
    expect(state.used?.avail_event).toBe(4);
    expect(state.lastSeenUsed).toBeNull();
  });

  it('reports corrupt chains, idx jumps and unreachable rings as problems', async () => {
    const pair = await ringPair(8);
    const { desc, avail } = pair.driver.offsets;
    pair.window.writeSync(desc, encodeDescriptor({ addr: PEER_BASE, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 0 }));
    pair.window.storeSync(avail + 4, 16, 0);
    pair.window.storeSync(avail + 2, 16, 1);
    let state = await inspectRing(pair.window, pair.translate, params(pair));
    expect(state.chains).toMatchObject([{ availSlot: 0, head: 0, descriptors: [], problem: expect.stringContaining('desc[0].next') }]);
    expect(state.problems).toMatchObject([{ code: 'desc-loop' }]);

    pair.window.storeSync(avail + 2, 16, 40);
    state = await inspectRing(pair.window, pair.translate, params(pair), 30);
    expect(state.problems.map((p) => p.code)).toContain('avail-idx');
    expect(state.problems.map((p) => p.code)).toContain('used-idx');

    state = await inspectRing(pair.window, pair.translate, { ...params(pair), deviceAddr: 0x10n });
    expect(state.avail).toBeNull();
    expect(state.problems).toMatchObject([{ code: 'ring-address' }]);
  });

  it('never throws on garbage rings and always returns JSON-able state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 216, maxLength: 216 }), fc.integer({ min: 0, max: 0xffff }), async (garbage, lastSeen) => {
        const pair = await ringPair(8);
        pair.window.writeSync(pair.driver.offsets.desc, garbage);
        const state = await inspectRing(pair.window, pair.translate, params(pair), lastSeen);
        expect(() => JSON.stringify(state)).not.toThrow();
        expect(state.chains.length).toBeLessThanOrEqual(8);
        expect(state.usedNotSeen.length).toBeLessThanOrEqual(8);
      }),
      { numRuns: 150 },
    );
  });
});
