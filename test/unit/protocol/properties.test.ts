/**
 * Property tests over the whole message table: valid values round-trip exactly, arbitrary bytes
 * never make decode throw, and a wrong msg_size is always noticed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DIRECTIONS, HEADERS, MESSAGES, REVISIONS, decode, decodeHeader, encode, lookupMessage } from '../../../src/protocol/index';
import type { DecodeOptions, Direction, FieldDef, FieldValue, Layout, MessageDef, MessageKind, Revision } from '../../../src/protocol/index';

type Fields = Record<string, FieldValue>;

const maxOf = (size: number): number => 2 ** (8 * Math.min(size, 4)) - 1;

/** A valid value for a fixed-size field: reserved bits zero, defined values only. */
function scalar(f: FieldDef): fc.Arbitrary<FieldValue> {
  if (f.mbz) return fc.constant(0);
  if (f.type === 'u64') return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  if (f.type === 'uuid') return fc.uint8Array({ minLength: 16, maxLength: 16 });
  if (f.type === 'u32[]') return fc.array(fc.nat({ max: maxOf(4) }), { minLength: f.size / 4, maxLength: f.size / 4 });
  if (f.type === 'bytes') return fc.uint8Array({ maxLength: 40 });
  if (f.bits) {
    const parts = f.bits.map((b) =>
      (b.values ? fc.constantFrom(...Object.keys(b.values).map(Number)) : fc.nat({ max: 2 ** b.width - 1 })).map((v) => v * 2 ** b.shift),
    );
    return fc.tuple(...parts).map((vs) => vs.reduce((a, b) => a + b, 0));
  }
  if (f.values) {
    const defined = fc.constantFrom(...Object.keys(f.values).map(Number));
    return f.implFrom === undefined ? defined : fc.oneof(defined, fc.integer({ min: f.implFrom, max: maxOf(f.size) }));
  }
  if (f.multipleOf) return fc.nat({ max: Math.floor(maxOf(f.size) / f.multipleOf) }).map((k) => k * f.multipleOf!);
  return fc.nat({ max: maxOf(f.size) });
}

/** A run and the count field that describes it. */
function run(f: FieldDef, count: FieldDef): fc.Arbitrary<Fields> {
  const c = count.name;
  if (f.type === 'u32[]') return fc.array(fc.nat({ max: maxOf(4) }), { maxLength: 12 }).map((w) => ({ [c]: w.length, [f.name]: w }));
  if (f.type === 'bitmap') {
    return fc.nat({ max: 64 }).map((k) => k * (count.multipleOf ?? 1)).chain((n) =>
      fc.uint8Array({ minLength: Math.ceil(n / 8), maxLength: Math.ceil(n / 8) }).map((b) => {
        if (n % 8) b[b.length - 1]! &= (1 << n % 8) - 1;
        return { [c]: n, [f.name]: b };
      }),
    );
  }
  const maxLength = f.size > 0 ? f.size : 40;
  const present = fc.uint8Array({ maxLength }).map((d) => ({ [c]: d.length, [f.name]: d }));
  if (!f.optional) return present;
  const absent = fc.nat({ max: 1000 }).map((n) => ({ [c]: n, [f.name]: new Uint8Array(0) }));
  return fc.oneof(present, absent);
}

function layoutFields(layout: Layout): fc.Arbitrary<Fields> {
  const counts = new Set(layout.fields.flatMap((f) => (f.count ? [f.count] : [])));
  const parts = layout.fields
    .filter((f) => !counts.has(f.name))
    .map((f) => (f.count ? run(f, layout.fields.find((x) => x.name === f.count)!) : scalar(f).map((v) => ({ [f.name]: v }))));
  // Rebuild in wire order, as decode reports them.
  return fc.tuple(...parts).map((ps) => {
    const all: Fields = Object.assign({}, ...ps);
    return Object.fromEntries(layout.fields.map((f) => [f.name, all[f.name]!]));
  });
}

/** Every listed message plus one implementation-defined id per namespace and kind. */
function messagesOf(rev: Revision): MessageDef[] {
  const impl = rev === 'r0' ? [] : [lookupMessage(rev, false, 0x85), lookupMessage(rev, false, 0xc1), lookupMessage(rev, true, 0x90), lookupMessage(rev, true, 0xc5)];
  return [...MESSAGES[rev], ...impl];
}

const CASES = REVISIONS.flatMap((rev) =>
  messagesOf(rev).flatMap((def) => def.kinds.map((kind) => [`${rev} ${def.bus ? 'bus ' : ''}${def.name} ${kind}`, rev, def, kind] as const)),
);

describe('encode → decode round trip', () => {
  it.each(CASES)('%s', (_, rev, def, kind: MessageKind) => {
    const header = fc.record({
      devNum: def.bus ? fc.constant(0) : fc.nat({ max: 0xffff }),
      token: rev === 'r3' || rev === 'r4' ? fc.nat({ max: 0xffff }) : fc.constant(0),
    });
    fc.assert(
      fc.property(header, layoutFields(def.layouts[kind]!), ({ devNum, token }, fields) => {
        const wire = encode(rev, { name: def.name, bus: def.bus, kind, devNum, token, fields });
        const { msg, problems } = decode(wire, rev);
        expect(problems).toEqual([]);
        expect(msg).toMatchObject({ name: def.name, kind, bus: def.bus, msgId: def.msgId, devNum, token, msgSize: rev === 'r0' ? 40 : wire.length });
        expect(msg!.fields).toEqual(fields);
        expect(Object.keys(msg!.fields)).toEqual(Object.keys(fields));
      }),
      { numRuns: 60 },
    );
  });
});

const DIRECTIONS_OR_NONE: (Direction | undefined)[] = [undefined, ...DIRECTIONS];

/** Frames with a plausible header (type, id, msg_size near the length) reach the payload checks. */
const framed = fc
  .tuple(fc.nat({ max: 7 }), fc.nat({ max: 255 }), fc.uint8Array({ minLength: 6, maxLength: 80 }), fc.integer({ min: -4, max: 4 }))
  .map(([type, id, rest, skew]) => {
    const b = Uint8Array.from([type, id, ...rest]);
    const size = Math.max(0, b.length + skew);
    for (const at of [4, 6]) if (at + 1 < b.length && rest[0]! % 2 === 0) [b[at], b[at + 1]] = [size & 0xff, size >> 8];
    return b;
  });

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 120 }), framed);

function checkNeverThrows(bytes: Uint8Array, rev: Revision, opts: DecodeOptions): void {
  const { msg, problems } = decode(bytes, rev, opts);
  expect(msg === null).toBe(bytes.length < HEADERS[rev].size);
  for (const p of problems) {
    expect(p.offset).toBeGreaterThanOrEqual(0);
    expect(p.offset).toBeLessThanOrEqual(bytes.length);
    expect(p.reason.length).toBeGreaterThan(0);
  }
  expect(decodeHeader(bytes, rev) === null).toBe(msg === null);
}

describe('decode of arbitrary bytes', () => {
  it.each(REVISIONS)('%s: never throws, offsets within the bytes', (rev) => {
    fc.assert(
      fc.property(anyBytes, fc.constantFrom(...DIRECTIONS_OR_NONE), fc.option(fc.nat({ max: 300 }), { nil: undefined }), (bytes, direction, maxSize) => {
        checkNeverThrows(bytes, rev, { ...(direction ? { direction } : {}), ...(maxSize === undefined ? {} : { maxSize }) });
      }),
      { numRuns: 2000 },
    );
  });

  it.each(REVISIONS)('%s: empty, 1 byte, huge', (rev) => {
    const huge = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 131) & 0xff);
    for (const bytes of [new Uint8Array(0), Uint8Array.of(0x01), huge, new Uint8Array(200_000)]) {
      for (const direction of DIRECTIONS_OR_NONE) checkNeverThrows(bytes, rev, direction ? { direction } : {});
    }
  });

  it('reads a subarray at its byteOffset, not at the start of its buffer', () => {
    const ring = new Uint8Array(64);
    ring.set([0x00, 0x42, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x07, 0x00, 0x00, 0x00], 20);
    ring.set([0x00, 0x0a, 0x01, 0x00, 0x01, 0x00, 0x30, 0x00], 0);
    expect(decode(ring.subarray(20, 32), 'r4')).toEqual({ msg: expect.objectContaining({ name: 'EVENT_USED', fields: { vq_index: 7 } }), problems: [] });
    const vq = new Uint8Array(80);
    vq.set(encode('r4', { name: 'GET_VQUEUE', kind: 'response', fields: { index: 0, max_size: 8, cur_size: 8, flags: 1, desc_addr: 1n, driver_addr: 2n, device_addr: 3n } }), 32);
    expect(decode(vq.subarray(32), 'r4').msg!.fields).toMatchObject({ desc_addr: 1n, driver_addr: 2n, device_addr: 3n });
  });
});

const SIZE_PROBLEMS = new Set(['size-mismatch', 'truncated', 'trailing-bytes']);

describe('a mutated msg_size', () => {
  it.each(REVISIONS.filter((r) => r !== 'r0'))('%s: is a size problem, or the shorter frame is itself a valid message', (rev) => {
    const mso = HEADERS[rev].msgSizeOffset;
    const valid = fc.constantFrom(...CASES.filter((c) => c[1] === rev)).chain(([, , def, kind]) =>
      layoutFields(def.layouts[kind]!).map((fields) => encode(rev, { name: def.name, bus: def.bus, kind, fields })),
    );
    fc.assert(
      fc.property(valid, fc.nat({ max: 0xffff }), (wire, size) => {
        fc.pre(size !== wire.length);
        const bad = wire.slice();
        bad[mso] = size & 0xff;
        bad[mso + 1] = size >> 8;
        const { msg, problems } = decode(bad, rev);
        if (problems.some((p) => SIZE_PROBLEMS.has(p.code))) return;
        // Only a cut that drops an all-zero optional tail can pass: re-encoding must give that cut.
        expect(size).toBeLessThan(wire.length);
        expect(encode(rev, { name: msg!.name, bus: msg!.bus, kind: msg!.kind, fields: msg!.fields })).toEqual(bad.subarray(0, size));
      }),
      { numRuns: 1500 },
    );
  });
});
