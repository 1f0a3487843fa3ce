import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BytesWindow } from '../../../src/bus/window';
import { toHex } from '../../../src/util/hex';
import { DeviceVirtqueue } from '../../../src/virtio/deviceRing';
import { DriverVirtqueue } from '../../../src/virtio/driverRing';
import { encodeDescriptor, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY, windowTranslator } from '../../../src/virtio/layout';
import { buffer, bytes, PEER_BASE, ringPair, WINDOW_SIZE, type RingPair } from './helpers';

/** Device side: pop one chain, expect it ok. */
async function popOk(pair: RingPair) {
  const r = await pair.device.popAvail();
  if (r === null) throw new Error('nothing available');
  if (!r.ok) throw new Error(r.error.reason);
  return r.value;
}

/** Driver side: publish a chain of a readable payload and a writable buffer of `w` bytes. */
async function submit(pair: RingPair, payload: Uint8Array, w: number): Promise<number> {
  const parts = [buffer(pair, { data: payload })];
  if (w > 0) parts.push(buffer(pair, { writable: w }));
  const added = pair.driver.addChain(parts);
  if (!added.ok) throw new Error(added.error);
  await pair.driver.publish();
  return added.value;
}

describe('split ring: byte-exact placement', () => {
  it('writes descriptors, avail entries and avail.idx at the spec offsets (size 8)', async () => {
    const window = new BytesWindow(new ArrayBuffer(0x1000));
    // The used ring after the 6 + 2N driver area (0x180 + 22, aligned 4); 0x194 would be used_event.
    const offsets = { desc: 0x100, avail: 0x180, used: 0x198 };
    expect(() => new DriverVirtqueue({ window, peerBase: PEER_BASE, size: 8, offsets: { ...offsets, used: 0x194 } })).toThrow(
      'available ring [0x180, +22) overlaps the used ring [0x194, +70)',
    );
    const q = new DriverVirtqueue({ window, peerBase: PEER_BASE, size: 8, offsets });
    await q.init();
    expect(q.descAddr).toBe(0x4000_0100n);
    expect(q.driverAddr).toBe(0x4000_0180n);
    expect(q.deviceAddr).toBe(0x4000_0198n);
    const added = q.addChain([
      { offset: 0x800, length: 8, writable: false },
      { offset: 0x808, length: 4, writable: true },
    ]);
    expect(added).toEqual({ ok: true, value: 0 });
    expect(window.readSync(0x180, 4)).toEqual(bytes(0, 0, 0, 0)); // nothing visible before publish
    expect(await q.publish()).toEqual({ count: 1, notify: true });
    expect(toHex(window.readSync(0x100, 32))).toBe(
      '00 08 00 40 00 00 00 00 08 00 00 00 01 00 01 00 ' + '08 08 00 40 00 00 00 00 04 00 00 00 02 00 00 00',
    );
    expect(toHex(window.readSync(0x180, 6))).toBe('00 00 01 00 00 00');
    expect(q.nextOffsetForNotify()).toBe(1);

    const created = DeviceVirtqueue.create(window, { size: 8, descAddr: q.descAddr, driverAddr: q.driverAddr, deviceAddr: q.deviceAddr }, windowTranslator(PEER_BASE, 0x1000));
    if (!created.ok) throw new Error(created.error.reason);
    const r = await created.value.popAvail();
    expect(r).toEqual({ ok: true, value: { head: 0, indices: [0, 1], readable: [{ offset: 0x800, length: 8 }], writable: [{ offset: 0x808, length: 4 }] } });
    await created.value.pushUsed(0, 3);
    // used: flags 0, idx 1, ring[0] = {id 0, len 3}
    expect(toHex(window.readSync(0x198, 12))).toBe('00 00 01 00 00 00 00 00 03 00 00 00');
    expect(await q.collectUsed()).toEqual({ used: [{ id: 0, len: 3 }], problems: [] });
    expect(q.numFree).toBe(8);
  });

  it('puts avail ring entry k at driver_addr + 4 + 2k and used element k at device_addr + 4 + 8k (size 256)', async () => {
    const pair = await ringPair(256, { startIdx: 250 });
    const heads: number[] = [];
    for (let i = 0; i < 10; i++) heads.push((await submit(pair, bytes(i), 0)));
    const avail = pair.driver.offsets.avail;
    for (let k = 0; k < 10; k++) {
      const slot = (250 + k) % 256;
      expect(pair.window.loadSync(avail + 4 + 2 * slot, 16)).toBe(heads[k]);
    }
    expect(pair.window.loadSync(avail + 2, 16)).toBe(260);
    for (let k = 0; k < 10; k++) {
      const chain = await popOk(pair);
      await pair.device.pushUsed(chain.head, 0);
      const slot = (250 + k) % 256;
      expect(pair.window.loadSync(pair.driver.offsets.used + 4 + 8 * slot, 32)).toBe(heads[k]);
    }
    expect(pair.window.loadSync(pair.driver.offsets.used + 2, 16)).toBe(260);
  });
});

describe('split ring: driver and device together', () => {
  it('carries chains of 1..n buffers with their bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.uint8Array({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }), async (chains) => {
        const pair = await ringPair(32);
        const sent: { head: number; data: Uint8Array[]; writable: number }[] = [];
        for (const parts of chains) {
          const readable = parts.slice(0, Math.ceil(parts.length / 2));
          const writableLens = parts.slice(readable.length).map((p) => p.length);
          const added = pair.driver.addChain([...readable.map((d) => buffer(pair, { data: d })), ...writableLens.map((w) => buffer(pair, { writable: w }))]);
          if (!added.ok) throw new Error(added.error);
          sent.push({ head: added.value, data: readable, writable: writableLens.reduce((a, b) => a + b, 0) });
        }
        await pair.driver.publish();
        for (const s of sent) {
          const chain = await popOk(pair);
          expect(chain.head).toBe(s.head);
          const got = await pair.device.readChain(chain);
          expect(toHex(got)).toBe(s.data.map((d) => toHex(d)).filter((t) => t).join(' '));
          const reply = Uint8Array.from({ length: s.writable }, (_, i) => i ^ 0x5a);
          expect(await pair.device.writeChain(chain, reply)).toBe(s.writable);
          await pair.device.pushUsed(chain.head, s.writable);
        }
        expect(await pair.device.popAvail()).toBeNull();
        const { used, problems } = await pair.driver.collectUsed();
        expect(problems).toEqual([]);
        expect(used).toEqual(sent.map((s) => ({ id: s.head, len: s.writable })));
        expect(pair.driver.numFree).toBe(32);
        expect(pair.driver.inFlight).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('tells the buffer watch the readable bytes of each chain when published and the written bytes up to used len when used, first `max` kept', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ parts: fc.array(fc.uint8Array({ minLength: 0, maxLength: 12 }), { minLength: 1, maxLength: 4 }), writable: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 3 }), short: fc.nat(12) }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 20 }),
        async (chains, max) => {
          const pair = await ringPair(32);
          const seen: [boolean, number, number, string][] = [];
          pair.driver.bufferWatch = { max, seen: (toDevice, head, length, b) => seen.push([toDevice, head, length, toHex(b)]) };
          const expected: { head: number; published: [boolean, number, number, string]; reply: Uint8Array; used: number }[] = [];
          for (const c of chains) {
            const added = pair.driver.addChain([...c.parts.map((d) => buffer(pair, { data: d })), ...c.writable.map((w) => buffer(pair, { writable: w }))]);
            if (!added.ok) throw new Error(added.error);
            const all = Uint8Array.from(c.parts.flatMap((d) => [...d]));
            const room = c.writable.reduce((a, b) => a + b, 0);
            const used = Math.max(0, room - c.short);
            expected.push({ head: added.value, published: [true, added.value, all.length, toHex(all.subarray(0, max))], reply: Uint8Array.from({ length: room }, (_, i) => (i * 7) & 0xff), used });
          }
          await pair.driver.publish();
          expect(seen).toEqual(expected.map((e) => e.published));
          seen.length = 0;
          for (const e of expected) {
            const chain = await popOk(pair);
            await pair.device.writeChain(chain, e.reply);
            await pair.device.pushUsed(chain.head, e.used);
          }
          await pair.driver.collectUsed();
          expect(seen).toEqual(expected.map((e) => [false, e.head, e.used, toHex(e.reply.subarray(0, Math.min(e.used, max)))]));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('survives the 16-bit idx wraparound (start at 0xFFF0)', async () => {
    const pair = await ringPair(8, { startIdx: 0xfff0 });
    let total = 0;
    for (let round = 0; round < 40; round++) {
      const n = 1 + (round % 3);
      total += n;
      const heads = [];
      for (let k = 0; k < n; k++) heads.push(await submit(pair, bytes(round, k), 2));
      for (let k = 0; k < n; k++) {
        const chain = await popOk(pair);
        expect(toHex(await pair.device.readChain(chain))).toBe(toHex(bytes(round, k)));
        await pair.device.writeChain(chain, bytes(0xaa, round));
        await pair.device.pushUsed(chain.head, 2);
      }
      const { used, problems } = await pair.driver.collectUsed();
      expect(problems).toEqual([]);
      expect(used.map((u) => u.id)).toEqual(heads);
      for (const h of heads) expect(h).toBeLessThan(8);
    }
    const end = (0xfff0 + total) & 0xffff;
    expect(end).toBe(0x003f); // wrapped
    expect(pair.driver.availIndex).toBe(end);
    expect(pair.driver.lastSeenUsed).toBe(end);
    expect(pair.device.lastAvail).toBe(end);
    expect(pair.device.usedIndex).toBe(end);
    expect(pair.driver.nextOffsetForNotify()).toBe(end);
  });

  it('publishes a batch that wraps the end of the avail ring array', async () => {
    const pair = await ringPair(8, { startIdx: 6 });
    const heads = [];
    for (let k = 0; k < 4; k++) {
      const a = pair.driver.addChain([buffer(pair, { data: bytes(k) })]);
      if (!a.ok) throw new Error(a.error);
      heads.push(a.value);
    }
    expect(await pair.driver.publish()).toEqual({ count: 4, notify: true });
    const popped = [];
    for (let k = 0; k < 4; k++) popped.push((await popOk(pair)).head);
    expect(popped).toEqual(heads);
    for (const h of popped) await pair.device.pushUsed(h, 0);
    expect((await pair.driver.collectUsed()).used.map((u) => u.id)).toEqual(heads);
  });

  it('says the ring is full as a value and recovers once chains come back', async () => {
    const pair = await ringPair(4);
    for (let k = 0; k < 4; k++) await submit(pair, bytes(k), 0);
    expect(pair.driver.numFree).toBe(0);
    const full = pair.driver.addChain([buffer(pair, { data: bytes(9) })]);
    expect(full).toEqual({ ok: false, error: 'virtqueue full: chain needs 1 descriptors, 0 of 4 free (4 chains in flight)' });
    const chain = await popOk(pair);
    await pair.device.pushUsed(chain.head, 0);
    expect((await pair.driver.collectUsed()).used).toHaveLength(1);
    expect(pair.driver.addChain([buffer(pair, { data: bytes(9) })]).ok).toBe(true);
    expect(pair.driver.addChain([buffer(pair, { data: bytes(9) })]).ok).toBe(false);
  });

  it('treats misuse by the caller as programmer errors', async () => {
    const pair = await ringPair(8);
    expect(() => pair.driver.addChain([])).toThrow(RangeError);
    expect(() => pair.driver.addChain([{ offset: 0, length: 4, writable: true }, { offset: 8, length: 4, writable: false }])).toThrow(/must precede/);
    expect(() => pair.driver.addChain([{ offset: WINDOW_SIZE - 2, length: 4, writable: false }])).toThrow(RangeError);
    const window = new BytesWindow(new ArrayBuffer(0x1000));
    expect(() => new DriverVirtqueue({ window, peerBase: 0n, size: 8, offsets: { desc: 8, avail: 0x200, used: 0x300 } })).toThrow(/16-byte aligned/);
    expect(() => new DriverVirtqueue({ window, peerBase: 0n, size: 6, offsets: { desc: 0, avail: 0x200, used: 0x300 } })).toThrow(/power of two/);
    await expect(pair.device.pushUsed(3, 0)).rejects.toThrow(/does not hold/);
  });

  it('reports data memory too small for a queue as a value', async () => {
    const pair = await ringPair(8);
    const r = DriverVirtqueue.allocate(pair.alloc, pair.window, PEER_BASE, 32768);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^virtqueue of size 32768: data memory full/);
  });
});

describe('split ring: notifications and event idx', () => {
  it('honours used.flags NO_NOTIFY and avail.flags NO_INTERRUPT without event idx', async () => {
    const pair = await ringPair(8);
    pair.window.storeSync(pair.driver.offsets.used, 16, VIRTQ_USED_F_NO_NOTIFY);
    pair.driver.addChain([buffer(pair, { data: bytes(1) })]);
    expect((await pair.driver.publish()).notify).toBe(false);
    const chain = await popOk(pair);
    expect(await pair.device.needsNotify()).toBe(false); // nothing pushed yet
    await pair.device.pushUsed(chain.head, 0);
    pair.window.storeSync(pair.driver.offsets.avail, 16, VIRTQ_AVAIL_F_NO_INTERRUPT);
    expect(await pair.device.needsNotify()).toBe(false);
    pair.window.storeSync(pair.driver.offsets.avail, 16, 0);
    pair.driver.addChain([buffer(pair, { data: bytes(2) })]);
    await pair.driver.publish();
    await pair.device.pushUsed((await popOk(pair)).head, 0);
    expect(await pair.device.needsNotify()).toBe(true);
  });

  it('uses avail_event / used_event with VIRTIO_F_EVENT_IDX', async () => {
    const pair = await ringPair(8, { eventIdx: true });
    pair.driver.addChain([buffer(pair, { data: bytes(1) })]);
    expect((await pair.driver.publish()).notify).toBe(true); // avail_event 0 passed
    const c1 = await popOk(pair);
    expect(await pair.device.popAvail()).toBeNull(); // empty: device writes avail_event = 1
    expect(await pair.driver.readAvailEvent()).toBe(1);
    const usedEventAt = pair.driver.offsets.avail + 4 + 2 * 8;
    await pair.device.pushUsed(c1.head, 0);
    expect(await pair.device.needsNotify()).toBe(true); // used_event 0 passed by 0→1
    await pair.driver.collectUsed();
    expect(pair.window.loadSync(usedEventAt, 16)).toBe(1);

    // The device moves avail_event ahead: no notification needed until the driver passes it.
    pair.window.storeSync(pair.driver.offsets.used + 4 + 8 * 8, 16, 5);
    pair.driver.addChain([buffer(pair, { data: bytes(2) })]);
    expect((await pair.driver.publish()).notify).toBe(false);
    // The driver moves used_event ahead: the device need not notify for one entry.
    await pair.driver.setUsedEvent(9);
    await pair.device.pushUsed((await popOk(pair)).head, 0);
    expect(await pair.device.needsNotify()).toBe(false);
  });

  it('rejects event-idx helpers when event idx is not negotiated', async () => {
    const pair = await ringPair(8);
    await expect(pair.driver.readAvailEvent()).rejects.toThrow(/EVENT_IDX/);
  });
});

describe('split ring: malicious device data gives problems, not throws', () => {
  async function withOneInFlight() {
    const pair = await ringPair(8);
    const head = await submit(pair, bytes(1, 2), 4);
    const usedAt = pair.driver.offsets.used;
    const writeUsed = (slot: number, id: number, len: number, idx: number) => {
      pair.window.storeSync(usedAt + 4 + 8 * slot, 32, id);
      pair.window.storeSync(usedAt + 4 + 8 * slot + 4, 32, len);
      pair.window.storeSync(usedAt + 2, 16, idx);
    };
    return { pair, head, usedAt, writeUsed };
  }

  it('used.idx advancing by more than the chains in flight', async () => {
    const { pair, usedAt, writeUsed } = await withOneInFlight();
    writeUsed(0, 0, 0, 5);
    const r = await pair.driver.collectUsed();
    expect(r.used).toEqual([]);
    expect(r.problems).toEqual([
      {
        code: 'used-idx',
        offset: usedAt + 2,
        expected: 'at most 1 new used entries after 0',
        seen: '5 (+5)',
        reason: `used.idx at data offset 0x${(usedAt + 2).toString(16)}: expected at most 1 new used entries after 0, saw 5 (+5)`,
      },
    ]);
    expect(pair.driver.inFlight).toBe(1);
  });

  it('id out of range, and id not in flight', async () => {
    const { pair, usedAt, writeUsed } = await withOneInFlight();
    writeUsed(0, 99, 0, 1);
    let r = await pair.driver.collectUsed();
    expect(r.problems).toMatchObject([{ code: 'used-id', offset: usedAt + 4, expected: 'an id < 8', seen: '99' }]);
    await submit(pair, bytes(3), 0);
    writeUsed(1, 5, 0, 2);
    r = await pair.driver.collectUsed();
    expect(r.problems).toMatchObject([{ code: 'used-id', offset: usedAt + 12, expected: 'the head of a chain in flight', seen: '5' }]);
  });

  it('len bigger than the chain’s writable bytes', async () => {
    const { pair, head, usedAt, writeUsed } = await withOneInFlight();
    writeUsed(0, head, 1000, 1);
    const r = await pair.driver.collectUsed();
    expect(r.used).toEqual([{ id: head, len: 4 }]);
    expect(r.problems).toMatchObject([{ code: 'used-len', offset: usedAt + 8, expected: "at most 4 (the chain's device-writable bytes)", seen: '1000' }]);
    expect(pair.driver.numFree).toBe(8);
  });

  it('the same head used twice', async () => {
    const { pair, head, writeUsed } = await withOneInFlight();
    await submit(pair, bytes(3), 0);
    writeUsed(0, head, 0, 1);
    writeUsed(1, head, 0, 2);
    const r = await pair.driver.collectUsed();
    expect(r.used).toEqual([{ id: head, len: 0 }]);
    expect(r.problems).toMatchObject([{ code: 'used-id', seen: `${head}` }]);
  });

  it('garbage in the used ring never throws and keeps the descriptor accounting sane', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ minLength: 4 + 8 * 8, maxLength: 4 + 8 * 8 }), async (inFlight, garbage) => {
        const pair = await ringPair(8);
        for (let k = 0; k < inFlight; k++) await submit(pair, bytes(k), 1);
        pair.window.writeSync(pair.driver.offsets.used, garbage);
        const r = await pair.driver.collectUsed();
        expect(r.used.length + pair.driver.inFlight).toBe(inFlight);
        expect(pair.driver.numFree).toBe(8 - 2 * pair.driver.inFlight);
        for (const p of r.problems) expect(p.reason).toContain('data offset');
        await pair.driver.collectUsed();
      }),
      { numRuns: 200 },
    );
  });
});

describe('split ring: malicious driver data gives problems, not throws', () => {
  async function rawDriver(size = 8) {
    const pair = await ringPair(size);
    const { desc, avail } = pair.driver.offsets;
    const setDesc = (i: number, addr: bigint, len: number, flags: number, next: number) => pair.window.writeSync(desc + 16 * i, encodeDescriptor({ addr, len, flags, next }));
    const publishHeads = (...heads: number[]) => {
      const idx = pair.window.loadSync(avail + 2, 16);
      heads.forEach((h, k) => pair.window.storeSync(avail + 4 + 2 * ((idx + k) % size), 16, h));
      pair.window.storeSync(avail + 2, 16, (idx + heads.length) & 0xffff);
    };
    return { pair, desc, avail, setDesc, publishHeads };
  }

  it('head index ≥ size', async () => {
    const { pair, avail, publishHeads } = await rawDriver();
    publishHeads(9);
    const r = await pair.device.popAvail();
    expect(r).toMatchObject({ ok: false, error: { code: 'desc-index', offset: avail + 4, expected: 'a descriptor index < 8', seen: '9' } });
    expect(pair.device.lastAvail).toBe(0); // not consumed
  });

  it('next index ≥ size', async () => {
    const { pair, desc, setDesc, publishHeads } = await rawDriver();
    setDesc(0, PEER_BASE + 0x4000n, 4, VIRTQ_DESC_F_NEXT, 200);
    publishHeads(0);
    expect(await pair.device.popAvail()).toMatchObject({ ok: false, error: { code: 'desc-index', offset: desc + 14, seen: '200' } });
  });

  it('a loop in the NEXT chain', async () => {
    const { pair, desc, setDesc, publishHeads } = await rawDriver();
    setDesc(2, PEER_BASE + 0x4000n, 4, VIRTQ_DESC_F_NEXT, 3);
    setDesc(3, PEER_BASE + 0x4004n, 4, VIRTQ_DESC_F_NEXT, 2);
    publishHeads(2);
    const r = await pair.device.popAvail();
    expect(r).toMatchObject({ ok: false, error: { code: 'desc-loop', offset: desc + 16 * 3 + 14, seen: '2 (loop: 2→3→2)' } });
  });

  it('an address outside the data window', async () => {
    const { pair, desc, setDesc, publishHeads } = await rawDriver();
    setDesc(0, 0x1234n, 4, 0, 0);
    publishHeads(0);
    expect(await pair.device.popAvail()).toMatchObject({ ok: false, error: { code: 'desc-address', offset: desc, seen: '0x1234 + 4 bytes' } });
    setDesc(0, PEER_BASE + BigInt(WINDOW_SIZE) - 2n, 4, 0, 0);
    expect(await pair.device.popAvail()).toMatchObject({ ok: false, error: { code: 'desc-address' } });
  });

  it('readable after writable, and INDIRECT without the feature', async () => {
    const { pair, setDesc, publishHeads } = await rawDriver();
    setDesc(0, PEER_BASE + 0x4000n, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    setDesc(1, PEER_BASE + 0x4004n, 4, 0, 0);
    publishHeads(0);
    expect(await pair.device.popAvail()).toMatchObject({ ok: false, error: { code: 'desc-order' } });
    setDesc(0, PEER_BASE + 0x4000n, 32, VIRTQ_DESC_F_INDIRECT, 0);
    expect(await pair.device.popAvail()).toMatchObject({ ok: false, error: { code: 'desc-indirect' } });
  });

  it('avail.idx jumping by more than the queue size', async () => {
    const { pair, avail } = await rawDriver();
    pair.window.storeSync(avail + 2, 16, 100);
    expect(await pair.device.popAvail()).toMatchObject({ ok: false, error: { code: 'avail-idx', offset: avail + 2, seen: '100 (+100)' } });
  });

  it('a head the device still holds', async () => {
    const { pair, setDesc, publishHeads } = await rawDriver();
    setDesc(0, PEER_BASE + 0x4000n, 4, 0, 0);
    publishHeads(0, 0);
    expect((await pair.device.popAvail())?.ok).toBe(true);
    expect(await pair.device.popAvail()).toMatchObject({ ok: false, error: { code: 'desc-in-use', seen: '0 (popped, not yet used)' } });
    await pair.device.pushUsed(0, 0);
    expect((await pair.device.popAvail())?.ok).toBe(true);
  });

  it('SET_VQUEUE values: bad size, rings outside the window or misaligned', () => {
    const window = new BytesWindow(new ArrayBuffer(0x1000));
    const t = windowTranslator(PEER_BASE, 0x1000);
    const addrs = { descAddr: PEER_BASE, driverAddr: PEER_BASE + 0x100n, deviceAddr: PEER_BASE + 0x200n };
    expect(DeviceVirtqueue.create(window, { ...addrs, size: 6 }, t)).toMatchObject({ ok: false, error: { code: 'queue-size', offset: -1 } });
    expect(DeviceVirtqueue.create(window, { ...addrs, size: 8, deviceAddr: PEER_BASE + 0x2000n }, t)).toMatchObject({
      ok: false,
      error: { code: 'ring-address', seen: '0x40002000 (68 bytes, outside the data window)' },
    });
    expect(DeviceVirtqueue.create(window, { ...addrs, size: 8, descAddr: PEER_BASE + 8n }, t)).toMatchObject({ ok: false, error: { code: 'ring-address' } });
    expect(DeviceVirtqueue.create(window, { ...addrs, size: 8 }, t).ok).toBe(true);
  });

  it('garbage in the descriptor table and avail ring never throws', async () => {
    const size = 8;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 16 * size, maxLength: 16 * size }), fc.uint8Array({ minLength: 4 + 2 * size, maxLength: 4 + 2 * size }), async (table, avail) => {
        const pair = await ringPair(size);
        // Keep some addresses inside the window so that some chains walk further.
        for (let i = 0; i < size; i++) if (table[16 * i]! & 1) table.set(encodeDescriptor({ addr: PEER_BASE + BigInt(table[16 * i + 1]! * 16), len: table[16 * i + 2]!, flags: table[16 * i + 12]! & 7, next: table[16 * i + 14]! % 12 }), 16 * i);
        pair.window.writeSync(pair.driver.offsets.desc, table);
        pair.window.writeSync(pair.driver.offsets.avail, avail);
        for (let k = 0; k <= size + 1; k++) {
          const r = await pair.device.popAvail();
          if (r === null || !r.ok) break;
          await pair.device.pushUsed(r.value.head, 0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
