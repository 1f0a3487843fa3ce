/**
 * What the misbehaving board puts on the bus instead of its server's answer, byte for byte:
 * the fault layer (main/host/sim/faults.ts) fed one message at a time, no board process.
 */
import { describe, expect, it } from 'vitest';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { encode } from '../../src/protocol/index';
import { QEMU_STACK_GARBAGE } from '../../src/sim/qemuGetDevices';
import { toHex } from '../../src/util/hex';
import { FaultyBoard, parseFaults } from '../../main/host/sim/faults';

const versal = findBuiltinProfile('sim-versal')!;

/** A fault layer playing `fault` on sim-versal, and what it has sent so far (hex). */
function faulty(fault: string): { through(bytes: Uint8Array): Promise<string[]>; sent: string[] } {
  const parsed = parseFaults(fault, versal);
  if (!parsed.ok) throw new Error(parsed.error);
  const board = new FaultyBoard({ profile: versal, filePath: '/nonexistent', faults: parsed.value, log: () => undefined });
  const sent: string[] = [];
  const send = (b: Uint8Array): Promise<boolean> => {
    sent.push(toHex(b));
    return Promise.resolve(true);
  };
  return { sent, through: (bytes) => board.sendThrough(bytes, send).then(() => sent) };
}

/** Everything the board sends for `bytes` with `fault`, as hex. */
const through = (fault: string, bytes: Uint8Array): Promise<string[]> => faulty(fault).through(bytes);

const getDevices = (count: number, token: number) => encode('r3', { name: 'GET_DEVICES', kind: 'response', devNum: 0, token, fields: { offset: 0, count, next_offset: 0, bitmap: Uint8Array.of(0x03, ...new Array<number>(count / 8 - 1).fill(0)) } });
const features = encode('r3', { name: 'GET_DEVICE_FEATURES', kind: 'response', devNum: 0, token: 7, fields: { block_index: 0, num_blocks: 2, features: [0, 1] } });

describe('the fault layer rewrites messages byte for byte', () => {
  it('qemu-get-devices: GET_DEVICES count 32 → msg_size 46, token 0, next_offset 0, the 4 bitmap bytes then zeros, 48 bytes written (QEMU field notes; real QEMU)', async () => {
    const [sent] = await through('qemu-get-devices', getDevices(32, 0x0001));
    // 03 02 0000 0000 2e00 | 0000 2000 0000 | 03 00 00 00, then the rest of QEMU's zeroed 48-byte message.
    expect(sent).toBe(`03 02 00 00 00 00 2e 00 00 00 20 00 00 00 03 00 00 00 ${new Array(30).fill('00').join(' ')}`);
  });

  it('qemu-get-devices: count 272 → msg_size 286 (0x011e), count field 272, the stack past the 4-byte array up to byte 48', async () => {
    const [sent] = await through('qemu-get-devices', getDevices(272, 0x0002));
    expect(sent).toBe(`03 02 00 00 00 00 1e 01 00 00 10 01 00 00 03 00 00 00 ${toHex(QEMU_STACK_GARBAGE.subarray(0, 30))}`);
  });

  it('size-short: GET_DEVICE_FEATURES cut to 20 bytes, msg_size 20', async () => {
    expect(toHex(features)).toBe('01 03 00 00 07 00 18 00 00 00 00 00 02 00 00 00 00 00 00 00 01 00 00 00');
    expect(await through('size-short', features)).toEqual(['01 03 00 00 07 00 14 00 00 00 00 00 02 00 00 00 00 00 00 00']);
  });

  it('size-over and size-under change only msg_size', async () => {
    expect(await through('size-over@GET_DEVICE_FEATURES', features)).toEqual([toHex(features).replace('18 00', '44 00')]);
    expect(await through('size-under@GET_DEVICE_FEATURES', features)).toEqual([toHex(features).replace('18 00', '06 00')]);
  });

  it('wrong-dev keeps the token, wrong-token keeps the dev_num', async () => {
    expect(await through('wrong-dev', features)).toEqual([toHex(features).replace(/^01 03 00 00/, '01 03 01 00')]);
    expect(await through('wrong-token', features)).toEqual([toHex(features).replace(/^01 03 00 00 07 00/, '01 03 00 00 07 80')]);
  });

  it('duplicate sends each response twice; stale sends the previous response before each', async () => {
    expect(await through('duplicate', features)).toEqual([toHex(features), toHex(features)]);
    const stale = faulty('stale');
    const first = getDevices(32, 1);
    await stale.through(first);
    const sent = await stale.through(features);
    expect(sent).toEqual([toHex(first), toHex(first), toHex(features)]);
  });

  it('torn keeps the first 4 bytes of the slot and zeroes the rest', async () => {
    const used = encode('r3', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } });
    expect(await through('torn@EVENT_USED', used)).toEqual([toHex(used.slice(0, 4)) + ' 00'.repeat(used.length - 4)]);
  });

  it('ghost-devices sets every bit up to the advertised count and pages on; next-offset-loop answers a fixed next_offset', async () => {
    const [ghost] = await through('ghost-devices=20', getDevices(32, 3));
    expect(ghost!.slice(0, 53)).toBe('03 02 00 00 03 00 12 00 00 00 20 00 00 00 ff ff 0f 00');
    const [loop] = await through('next-offset-loop', getDevices(32, 4));
    expect(loop!.slice(0, 53)).toBe('03 02 00 00 04 00 12 00 00 00 20 00 08 00 03 00 00 00');
  });
});
