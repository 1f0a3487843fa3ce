import { describe, expect, it } from 'vitest';
import {
  decodeI2cAddr,
  encodeI2cAddr,
  encodeI2cOutHdr,
  I2cDeviceModel,
  I2cRam,
  i2cRead,
  i2cRequestParts,
  i2cTransfer,
  i2cWrite,
  i2cWriteRead,
  VIRTIO_I2C_FLAGS_FAIL_NEXT,
  VIRTIO_I2C_FLAGS_M_RD,
} from '../../../src/devices/i2c';
import { submitRequests } from '../../../src/devices/workload';
import { DEVICE_ID, FEATURE } from '../../../src/protocol/names';
import { toHex } from '../../../src/util/hex';
import { inspectRing } from '../../../src/virtio/inspect';
import { windowTranslator } from '../../../src/virtio/layout';
import { fakeContextFor, PEER_BASE } from './fakeContext';

const b = (...x: number[]) => Uint8Array.from(x);

describe('virtio-i2c request format', () => {
  it('encodes the §15.3 out_hdr bytes exactly', () => {
    const addr = encodeI2cAddr({ address: 0x50 });
    expect(addr).toBe(0x00a0);
    expect(toHex(encodeI2cOutHdr(addr, VIRTIO_I2C_FLAGS_FAIL_NEXT))).toBe('a0 00 00 00 01 00 00 00');
    expect(toHex(encodeI2cOutHdr(addr, VIRTIO_I2C_FLAGS_M_RD))).toBe('a0 00 00 00 02 00 00 00');
  });

  it('encodes 10-bit addresses (bits 15:8 A7..A0, 7:3 11110, 2:1 A9..A8) and decodes both forms', () => {
    expect(encodeI2cAddr({ address: 0x123, tenBit: true })).toBe(0x23f2);
    expect(encodeI2cAddr({ address: 0x3ff, tenBit: true })).toBe(0xfff6);
    expect(decodeI2cAddr(0x23f2)).toEqual({ address: 0x123, tenBit: true });
    for (let a = 0; a < 0x78; a++) expect(decodeI2cAddr(encodeI2cAddr({ address: a }))).toEqual({ address: a });
    for (const a of [0, 0x55, 0x2aa, 0x3ff]) expect(decodeI2cAddr(encodeI2cAddr({ address: a, tenBit: true }))).toEqual({ address: a, tenBit: true });
    expect(decodeI2cAddr(0x00a1)).toBeNull(); // bit 0 set
    expect(decodeI2cAddr(0x01a0)).toBeNull(); // 7-bit form with bits 15:8 set
    expect(() => encodeI2cAddr({ address: 0x80 })).toThrow(RangeError);
  });

  it('puts a write-then-read group on the ring exactly as §15.3 describes', async () => {
    const model = new I2cDeviceModel();
    const bench = await fakeContextFor(model);
    const ctx = bench.contexts[0]!;
    const seen: string[] = [];
    bench.beforeProcess = async () => {
      const q = ctx.queue;
      const state = await inspectRing(bench.window, windowTranslator(PEER_BASE, bench.window.size), { size: q.size, descAddr: q.descAddr, driverAddr: q.driverAddr, deviceAddr: q.deviceAddr });
      for (const chain of state.chains) {
        const parts = chain.descriptors.map((i) => state.descriptors[i]!);
        const hdrOffset = Number(BigInt(parts[0]!.addr) - PEER_BASE);
        seen.push(`${toHex(bench.window.readSync(hdrOffset, 8))} | ${parts.map((p) => `${p.len}:${p.flags}`).join(' ')}`);
      }
    };
    const r = await i2cTransfer(ctx, [{ address: 0x50, write: b(0x00, 0x10) }, { address: 0x50, read: 1 }]);
    expect(seen).toEqual(['a0 00 00 00 01 00 00 00 | 8:NEXT 2:NEXT 1:WRITE', 'a0 00 00 00 02 00 00 00 | 8:NEXT 1:NEXT|WRITE 1:WRITE']);
    expect(r).toEqual({ ok: false, error: 'I2C target 0x50 did not acknowledge (status VIRTIO_I2C_MSG_ERR)' });
  });
});

describe('virtio-i2c device model and driver workloads', () => {
  it('offers ZERO_LENGTH_REQUEST and VERSION_1, no config, one requestq', () => {
    const m = new I2cDeviceModel();
    expect(m.deviceId).toBe(DEVICE_ID.I2C);
    expect(m.offeredFeatures).toBe((1n << BigInt(FEATURE.VERSION_1)) | 1n);
    expect(m.configSize).toBe(0);
    expect(m.numQueues).toBe(1);
    expect(m.queueMaxSize(0)).toBe(256);
    expect(m.queueMaxSize(1)).toBe(0);
    expect(m.readConfig(0, 0)).toEqual(new Uint8Array(0));
    expect(() => m.readConfig(0, 1)).toThrow(RangeError);
  });

  it('write-then-read returns what was written to the RAM at 0x54 and at 0x56', async () => {
    const model = new I2cDeviceModel();
    const bench = await fakeContextFor(model);
    const ctx = bench.contexts[0]!;
    expect(await i2cWrite(ctx, 0x54, b(3, 0xde, 0xad, 0xbe, 0xef))).toEqual({ ok: true });
    expect(await i2cWrite(ctx, 0x56, b(3, 1, 2))).toEqual({ ok: true });
    expect(await i2cWriteRead(ctx, 0x54, b(3), 4)).toEqual({ ok: true, value: b(0xde, 0xad, 0xbe, 0xef) });
    expect(await i2cWriteRead(ctx, 0x56, b(2), 4)).toEqual({ ok: true, value: b(0, 1, 2, 0) });
    // A plain read continues from the auto-incremented pointer.
    expect(await i2cRead(ctx, 0x54, 2)).toEqual({ ok: true, value: b(0, 0) });
    expect(toHex((model.targets.get(0x54) as I2cRam).bytes.subarray(0, 8))).toBe('00 00 00 de ad be ef 00');
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks);
  });

  it('wraps the RAM address pointer at 20 bytes', async () => {
    const bench = await fakeContextFor(new I2cDeviceModel());
    const ctx = bench.contexts[0]!;
    expect((await i2cWrite(ctx, 0x54, b(18, 1, 2, 3, 4))).ok).toBe(true);
    expect(await i2cWriteRead(ctx, 0x54, b(0), 2)).toEqual({ ok: true, value: b(3, 4) });
    expect(await i2cWriteRead(ctx, 0x54, b(18), 4)).toEqual({ ok: true, value: b(1, 2, 3, 4) });
    expect(await i2cWriteRead(ctx, 0x54, b(41), 1)).toEqual({ ok: true, value: b(4) }); // pointer 41 % 20 = 1
  });

  it('reports an absent target as a normal failed result and frees the buffers', async () => {
    const bench = await fakeContextFor(new I2cDeviceModel());
    const ctx = bench.contexts[0]!;
    expect(await i2cWrite(ctx, 0x50, b(0, 1))).toEqual({ ok: false, error: 'I2C target 0x50 did not acknowledge (status VIRTIO_I2C_MSG_ERR)' });
    expect(await i2cWriteRead(ctx, 0x51, b(0), 1)).toEqual({ ok: false, error: 'I2C target 0x51 did not acknowledge (status VIRTIO_I2C_MSG_ERR)' });
    expect(await i2cRead(ctx, 0x23, 1)).toEqual({ ok: false, error: 'I2C target 0x23 did not acknowledge (status VIRTIO_I2C_MSG_ERR)' });
    expect(await i2cTransfer(ctx, [{ address: 0x54, tenBit: true, read: 1 }])).toEqual({ ok: false, error: 'I2C target 0x054 (10-bit) did not acknowledge (status VIRTIO_I2C_MSG_ERR)' });
    expect(bench.alloc.allocatedBlocks).toBe(bench.ringBlocks);
  });

  it('fails the rest of a FAIL_NEXT group after a failed request, and only that group', async () => {
    const model = new I2cDeviceModel();
    const bench = await fakeContextFor(model);
    const ctx = bench.contexts[0]!;
    await i2cWrite(ctx, 0x54, b(0, 7));
    const group = [i2cRequestParts({ address: 0x50, write: b(0) }, VIRTIO_I2C_FLAGS_FAIL_NEXT), i2cRequestParts({ address: 0x54, write: b(0, 9) }, VIRTIO_I2C_FLAGS_FAIL_NEXT), i2cRequestParts({ address: 0x54, read: 1 }, 0)];
    const after = i2cRequestParts({ address: 0x54, read: 1 }, 0);
    const r = await submitRequests(ctx, [...group, after]);
    if (!r.ok) throw new Error(r.error);
    const statuses = r.value.map((c) => c.writable[c.writable.length - 1]![0]);
    expect(statuses).toEqual([1, 1, 1, 0]);
    expect((model.targets.get(0x54) as I2cRam).bytes[0]).toBe(7); // the failed group's write never ran
  });

  it('supports zero-length requests (SMBus quick)', async () => {
    const bench = await fakeContextFor(new I2cDeviceModel());
    const ctx = bench.contexts[0]!;
    expect(i2cRequestParts({ address: 0x54, write: b() }, 0)).toHaveLength(2);
    expect(await i2cWrite(ctx, 0x54, b())).toEqual({ ok: true });
    expect(await i2cRead(ctx, 0x56, 0)).toEqual({ ok: true, value: b() });
    expect((await i2cWrite(ctx, 0x50, b())).ok).toBe(false);
  });

  it('answers malformed requests with status ERR instead of failing', async () => {
    const bench = await fakeContextFor(new I2cDeviceModel());
    const ctx = bench.contexts[0]!;
    // A read request that also carries device-readable data; a header that is too short.
    const r = await submitRequests(ctx, [
      [{ data: encodeI2cOutHdr(0xa8, VIRTIO_I2C_FLAGS_M_RD) }, { data: b(1) }, { writable: 2 }],
      [{ data: b(0xa8, 0) }, { writable: 1 }],
    ]);
    if (!r.ok) throw new Error(r.error);
    expect(r.value.map((c) => c.writable.at(-1)!.at(-1))).toEqual([1, 1]);
  });

  it('serves the ST demo targets in a custom map', async () => {
    const ram = new I2cRam(4);
    const bench = await fakeContextFor(new I2cDeviceModel({ targets: new Map([[0x20, ram]]) }));
    const ctx = bench.contexts[0]!;
    expect((await i2cWrite(ctx, 0x20, b(2, 5, 6, 7))).ok).toBe(true);
    expect(ram.bytes).toEqual(b(7, 0, 5, 6));
    expect((await i2cWrite(ctx, 0x54, b(0))).ok).toBe(false);
  });
});
