/** detectRevision on captured-like sequences of each revision (docs/protocol.md §13). */
import { describe, expect, it } from 'vitest';
import { detectRevision, encode } from '../../../src/protocol/index';
import type { MessageInit, Revision } from '../../../src/protocol/index';
import { parseHex } from '../../../src/util/hex';

const hex = (s: string): Uint8Array => parseHex(s)!;
const slot = (msg: Uint8Array, size = 64): Uint8Array => {
  const b = new Uint8Array(size);
  b.set(msg);
  return b;
};

const ADDRS = { desc_addr: 0x40000000n, driver_addr: 0x40001000n, device_addr: 0x40002000n };

/** A driver bring-up as each revision would put it on the wire (request, response, …). */
function bringUp(rev: Exclude<Revision, 'r0'>): Uint8Array[] {
  const d = { devNum: 1, token: rev === 'r2' ? 0 : 1 };
  const info =
    rev === 'r4'
      ? { device_id: 34, vendor_id: 0x554d4551, device_uuid: new Uint8Array(16), num_feature_blocks: 2, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 }
      : { device_id: 34, vendor_id: 0x554d4551, num_feature_bits: 64, config_size: 0, max_virtqueues: 1, admin_vq_start: 0, admin_vq_count: 0 };
  const flags = rev === 'r4' ? { flags: 1 } : {};
  const msgs: MessageInit[] = [
    { name: 'GET_DEVICES', kind: 'request', bus: true, token: d.token, fields: { offset: 0, count: 16 } },
    { name: 'GET_DEVICES', kind: 'response', bus: true, token: d.token, fields: rev === 'r4' ? { offset: 0, next_offset: 0, count: 16, bitmap: hex('02 00') } : { offset: 0, count: 16, next_offset: 0, bitmap: hex('02 00') } },
    { name: 'GET_DEVICE_INFO', kind: 'request', ...d },
    { name: 'GET_DEVICE_INFO', kind: 'response', ...d, fields: info },
    { name: 'SET_DEVICE_STATUS', kind: 'request', ...d, fields: { status: 0 } },
    { name: 'SET_DEVICE_STATUS', kind: 'response', ...d, fields: { status: 0 } },
    { name: 'GET_DEVICE_FEATURES', kind: 'request', ...d, fields: { block_index: 0, num_blocks: 2 } },
    { name: 'GET_DEVICE_FEATURES', kind: 'response', ...d, fields: { block_index: 0, num_blocks: 2, features: [1, 1] } },
    { name: 'SET_VQUEUE', kind: 'request', ...d, fields: { index: 0, ...flags, size: 256, ...ADDRS } },
    { name: 'SET_VQUEUE', kind: 'response', ...d },
    { name: 'EVENT_AVAIL', kind: 'event', devNum: 1, fields: { vq_index: 0, next_offset: 0 } },
    { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } },
  ];
  return msgs.map((m) => encode(rev, m));
}

function r0BringUp(): Uint8Array[] {
  const msgs: MessageInit[] = [
    { name: 'CONNECT', kind: 'request' },
    { name: 'DEVICE_INFO', kind: 'request' },
    { name: 'DEVICE_INFO', kind: 'response', fields: { version: 1, device_id: 34, vendor_id: 0 } },
    { name: 'GET_FEATURES', kind: 'request', fields: { index: 0 } },
    { name: 'GET_FEATURES', kind: 'response', type: 0, fields: { index: 0, features: [1, 0, 0, 0, 0, 0, 0, 0] } },
    { name: 'SET_DEVICE_STATUS', kind: 'request', fields: { status: 0x0f } },
    { name: 'EVENT_AVAIL', kind: 'event', fields: { vq_idx: 0, next_offset: 0n, next_wrap: 0n } },
    { name: 'EVENT_USED', kind: 'event', fields: { vq_idx: 0 } },
  ];
  return msgs.map((m) => encode('r0', m));
}

describe('detectRevision', () => {
  it.each(['r2', 'r3', 'r4'] as const)('%s bring-up: high confidence', (rev) => {
    const guess = detectRevision(bringUp(rev));
    expect(guess).toMatchObject({ revision: rev, confidence: 'high' });
    expect(guess.evidence[0]).toMatch(new RegExp(`^${rev}: 12 of 12 frames fit, 12 decode cleanly`));
  });

  it('R4 over R3: cites the 52-byte GET_DEVICE_INFO response', () => {
    const guess = detectRevision(bringUp('r4'));
    expect(guess.evidence.join('\n')).toContain('GET_DEVICE_INFO response, 52 bytes) fits r4; as r3: size-mismatch');
  });

  it('R3 frames in 64-byte queue slots', () => {
    expect(detectRevision(bringUp('r3').map((m) => slot(m)))).toMatchObject({ revision: 'r3', confidence: 'high' });
  });

  it.each([
    ['40-byte frames', (b: Uint8Array) => b],
    ['64-byte slots', (b: Uint8Array) => slot(b)],
  ])('R0 in %s', (_, frame) => {
    expect(detectRevision(r0BringUp().map(frame))).toMatchObject({ revision: 'r0', confidence: 'high' });
  });

  it('§15 vectors: R3 GET_SHM response and R4 SET_VQUEUE flags tell R3 from R4', () => {
    const shmR3 = hex('01 0C 01 00 01 00 14 00 00 00 00 00 00 00 10 00 00 00 00 80');
    const used = hex('00 42 01 00 00 00 0C 00 00 00 00 00');
    expect(detectRevision([used, shmR3, used])).toMatchObject({ revision: 'r3', confidence: 'high' });
    const setVqR4 = hex('00 0A 01 00 01 00 30 00 00 00 00 00 01 00 00 00 00 01 00 00 00 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00');
    expect(detectRevision([used, setVqR4])).toMatchObject({ revision: 'r4', confidence: 'high' });
  });

  it('only messages R3 and R4 share: R4, low confidence', () => {
    const shared = [hex('00 02 01 00 01 00 08 00'), hex('00 41 01 00 00 00 10 00 00 00 00 00 00 00 00 00'), hex('00 42 01 00 00 00 0C 00 00 00 00 00')];
    const guess = detectRevision(shared);
    expect(guess).toMatchObject({ revision: 'r4', confidence: 'low' });
    expect(guess.evidence.join('\n')).toContain('no frame tells them apart');
  });

  it('mostly unreadable frames: a guess with low confidence', () => {
    const junk = [hex('ff ff ff'), hex('01'), hex('ff ff ff ff ff')];
    expect(detectRevision([...junk, hex('00 42 01 00 00 00 0C 00 00 00 00 00')])).toMatchObject({ confidence: 'low' });
  });

  it('nothing to go on', () => {
    expect(detectRevision([])).toMatchObject({ revision: null, confidence: 'none' });
    expect(detectRevision([hex('00'), hex('01 02 03')])).toMatchObject({ revision: null, confidence: 'none' });
  });
});

describe('damaged frames', () => {
  it('still name a revision, with low confidence, when only their header fits', () => {
    // GET_VQUEUE request cut two bytes short: msg_size 12, 10 bytes present.
    const g = detectRevision([Uint8Array.of(0x00, 0x09, 0x01, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x00)]);
    expect(g.revision).toBe('r4');
    expect(g.confidence).toBe('low');
    expect(g.evidence.join('\n')).toMatch(/only by their header/);
  });

  it('does not take a header with a reserved id or reserved type bits as evidence', () => {
    expect(detectRevision([Uint8Array.of(0x00, 0x3f, 0x01, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x00)]).revision).toBeNull();
    expect(detectRevision([Uint8Array.of(0x80, 0x09, 0x01, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x00)]).revision).toBeNull();
  });
});

describe("Xen's variant of R2 (6-byte header, no token, at most 44 bytes, transport messages only)", () => {
  const transport = bringUp('r2').slice(2);

  it('R2 transport traffic within 44 bytes fits it, and the evidence says why', () => {
    const g = detectRevision(transport);
    expect(g).toMatchObject({ revision: 'r2', confidence: 'high', variant: 'xen' });
    expect(g.evidence.at(-1)).toContain("fits Xen's R2 variant");
  });

  it('a bus message (Xen defines none) or a message over 44 bytes rules it out', () => {
    expect(detectRevision(bringUp('r2')).variant).toBeNull();
    const config = encode('r2', { name: 'GET_CONFIG', kind: 'response', devNum: 1, fields: { generation: 0, offset: 0, length: 28, data: new Uint8Array(28) } });
    expect(config.length).toBe(46);
    expect(detectRevision([...transport, config])).toMatchObject({ revision: 'r2', variant: null });
  });

  it('is never reported for other revisions', () => {
    for (const rev of ['r3', 'r4'] as const) expect(detectRevision(bringUp(rev).slice(2)).variant).toBeNull();
  });
});
