/** The dialect against scripted peers: the quirks of real ones, and the spec's paging rules. */
import { describe, expect, it } from 'vitest';

import { createDialect } from '../../../../src/roles/driver/dialect';
import type { DriverPort } from '../../../../src/roles/driver/port';
import { decode, encode } from '../../../../src/protocol/index';
import type { Revision } from '../../../../src/protocol/types';
import { parseHex } from '../../../../src/util/hex';
import { ok } from '../../../../src/util/result';

/** A port whose peer answers each request with `answer(request)`; records what was sent. */
function scripted(revision: Revision, answer: (req: ReturnType<typeof decode>['msg'] & object) => Uint8Array | null) {
  const sent: string[] = [];
  const port: DriverPort = {
    async request(bytes) {
      const m = decode(bytes, revision).msg!;
      sent.push(`${m.name}(${JSON.stringify(m.fields)})`);
      const r = answer(m);
      return r ? { ok: true, value: r, latencyNs: 1000 } : { ok: false, error: 'no response' };
    },
    post: async () => ok(),
    onEvent: () => () => undefined,
    poll: async () => undefined,
  };
  const findings: string[] = [];
  const dialect = createDialect(port, revision, { timeoutMs: 100, maxMessageSize: 64, onFinding: (t) => findings.push(t) });
  return { dialect, sent, findings };
}

describe('GET_DEVICES', () => {
  it('asks as Linux does (offset 0, count 32) and reads only the 4 bitmap bytes of QEMU\'s 46-byte answer, reported once', async () => {
    // QEMU field notes: 03 02 0000 0000 2e00 | 0000 2000 0000 | 01 00 00 00 …, token not echoed;
    // the 28 bytes msg_size claims past the bitmap are QEMU's stack: phantom devices if read.
    const qemu = new Uint8Array(46).fill(0xa5);
    qemu.set(parseHex('03 02 00 00 00 00 2e 00 00 00 20 00 00 00 01 00 00 00')!);
    const { dialect, sent, findings } = scripted('r3', () => qemu);
    expect(await dialect.getDevices()).toEqual({ ok: true, value: [{ devNum: 0 }] });
    expect(await dialect.getDevices()).toEqual({ ok: true, value: [{ devNum: 0 }] });
    expect(sent).toEqual(['GET_DEVICES({"offset":0,"count":32})', 'GET_DEVICES({"offset":0,"count":32})']);
    expect(findings).toEqual(['GET_DEVICES response: count 32 needs msg_size 18 but msg_size is 46: 14 + 32, the bitmap counted in bytes, not bits (tolerated)']);
  });

  it('never takes devices past the window it asked for, and refuses a bitmap shorter than that window', async () => {
    // A bus answering a larger window than asked: devices 32..39 are outside the request.
    const wide = scripted('r3', () => encode('r3', { name: 'GET_DEVICES', kind: 'response', bus: true, fields: { offset: 0, count: 40, next_offset: 0, bitmap: Uint8Array.of(1, 0, 0, 0x80, 0xff) } }));
    expect(await wide.dialect.getDevices()).toEqual({ ok: true, value: [{ devNum: 0 }, { devNum: 31 }] });
    // count 32 in a msg_size of 16: two of the four bitmap bytes are missing.
    const short = scripted('r3', () => parseHex('03 02 00 00 00 00 10 00 00 00 20 00 00 00 01 00')!);
    const r = await short.dialect.getDevices();
    expect(r).toMatchObject({ ok: false, error: 'malformed GET_DEVICES response (bus message, token 0x0000): msg_size 16, its layout needs 18 bytes (byte 6: expected ≥ 18, saw 16)' });
    const moved = scripted('r3', () => encode('r3', { name: 'GET_DEVICES', kind: 'response', bus: true, fields: { offset: 8, count: 32, next_offset: 0, bitmap: new Uint8Array(4) } }));
    expect(await moved.dialect.getDevices()).toMatchObject({ ok: false, error: 'GET_DEVICES asked for offset 0, the response is for offset 8' });
  });

  it('walks an R4 bus by next_offset, across empty windows, to a device at 1000', async () => {
    const { dialect, sent } = scripted('r4', (m) => {
      const offset = m.fields['offset'] as number;
      const count = Math.min(m.fields['count'] as number, 200);
      const bitmap = new Uint8Array(Math.ceil(count / 8));
      for (const dev of [0, 1000]) if (dev >= offset && dev < offset + count) bitmap[(dev - offset) >> 3]! |= 1 << ((dev - offset) & 7);
      const next = offset + count > 1000 ? 0 : offset + count;
      return encode('r4', { name: 'GET_DEVICES', kind: 'response', bus: true, fields: { offset, next_offset: next, count, bitmap } });
    });
    const r = await dialect.getDevices();
    expect(r).toEqual({ ok: true, value: [{ devNum: 0 }, { devNum: 1000 }] });
    // Windows of 32 (what was asked, less than the 200 the bus would give): 0, 32, …, 992.
    expect(sent.length).toBe(32);
  });

  it('ends a walk whose next_offset does not grow, with a finding', async () => {
    const { dialect, findings } = scripted('r4', () =>
      encode('r4', { name: 'GET_DEVICES', kind: 'response', bus: true, fields: { offset: 0, next_offset: 0 + 0, count: 8, bitmap: Uint8Array.of(1) } }),
    );
    // next_offset 0 ends the walk normally; a peer answering its own offset again must not loop.
    expect(await dialect.getDevices()).toEqual({ ok: true, value: [{ devNum: 0 }] });
    const loop = scripted('r3', (m) =>
      encode('r3', { name: 'GET_DEVICES', kind: 'response', bus: true, fields: { offset: m.fields['offset'] as number, count: 8, next_offset: 8, bitmap: Uint8Array.of(2) } }),
    );
    expect(await loop.dialect.getDevices()).toEqual({ ok: true, value: [{ devNum: 1 }, { devNum: 9 }] });
    expect(loop.findings.join()).toMatch(/next_offset 8: the walk cannot advance/);
    expect(findings).toEqual([]);
  });

  it('still refuses a response that is missing bytes', async () => {
    const { dialect } = scripted('r4', () => parseHex('03 02 00 00 00 00 10 00 00 00 00 00 10 00')!);
    const r = await dialect.getDevices();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/malformed GET_DEVICES response \(bus message, token 0x0000\): .*16.*14/);
  });
});

describe('GET_DEVICE_INFO', () => {
  const info = (uuid: Uint8Array) =>
    encode('r4', {
      name: 'GET_DEVICE_INFO',
      kind: 'response',
      devNum: 1,
      fields: { device_id: 34, vendor_id: 1, device_uuid: uuid, num_feature_blocks: 2, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 },
    });

  it('reports an R4 device_uuid as hex, and a nil UUID as none (§6.1)', async () => {
    const uuid = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);
    const some = await scripted('r4', () => info(uuid)).dialect.getDeviceInfo(1);
    expect(some).toMatchObject({ ok: true, value: { deviceId: 34, featureBits: 64, uuid: '101112131415161718191a1b1c1d1e1f' } });
    const nil = await scripted('r4', () => info(new Uint8Array(16))).dialect.getDeviceInfo(1);
    expect(nil.ok && nil.value.uuid).toBe(undefined);
  });
});
