import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  DIRECTION_CODES,
  encodeRecord,
  kindCode,
  NO_DEV,
  readRecord,
  RECORD_FIELDS,
  RECORD_HEADER_SIZE,
  RECORD_OFFSET,
  RecordClock,
  RecordView,
  REVISION_CODES,
  soundRecordLength,
  writeRecordHeaderFast,
  type RecordFieldName,
  type TraceRecord,
} from '../../../src/trace/record';
import { parseHex, toHex } from '../../../src/util/hex';
import { arbRecord } from './sample';

const U64 = 0xffff_ffff_ffff_ffffn;
const wrap = (n: bigint): bigint => ((n % (U64 + 1n)) + (U64 + 1n)) % (U64 + 1n);

/** The bytes the recorder's fast path writes for `r`, with the clock anchored at `startMonoNs`. */
function fastBytes(r: TraceRecord, startMonoNs: bigint): Uint8Array {
  // The fast path derives wall from mono; anchor the wall clock so it gives r.wallNs.
  const clock = new RecordClock(startMonoNs, wrap(r.wallNs - (r.monoNs - startMonoNs)));
  const out = new Uint8Array(RECORD_HEADER_SIZE + r.data.length).fill(0xa5);
  const dv = new DataView(out.buffer);
  const length = writeRecordHeaderFast(
    dv,
    0,
    r.data.length,
    clock,
    kindCode(r.kind),
    DIRECTION_CODES.indexOf(r.dir),
    REVISION_CODES.indexOf(r.rev),
    r.seq,
    r.monoNs,
    r.channel,
    r.devNum ?? NO_DEV,
    r.msgType,
    r.msgId,
    r.token,
    r.problems,
    r.flags,
    r.pairSeq ?? -1,
    r.latencyNs,
  );
  expect(length).toBe(out.length);
  out.set(r.data, RECORD_HEADER_SIZE);
  return out;
}

const sample: TraceRecord = {
  kind: 'message',
  dir: 'device-to-driver',
  rev: 'r4',
  seq: 0x0102_0304_0506,
  monoNs: 0x1112_1314_1516_1718n,
  wallNs: 0x2122_2324_2526_2728n,
  channel: 1,
  devNum: 0x0203,
  msgType: 0x41,
  msgId: 0x07,
  token: 0xbeef,
  problems: 0x8000_0001,
  flags: 0x22,
  pairSeq: null,
  latencyNs: 0x3132_3334n,
  data: Uint8Array.of(0xde, 0xad),
};

describe('trace record layout table', () => {
  it('lays the header out field after field, 64 bytes, one field per TraceRecord property', () => {
    let end = 0;
    for (const f of RECORD_FIELDS) {
      expect(f.offset, f.name).toBe(end);
      end += f.size;
    }
    expect(end).toBe(64);
    expect(RECORD_HEADER_SIZE).toBe(64);
    const names = RECORD_FIELDS.map((f) => f.name);
    expect(names).toEqual(['length', 'version', ...Object.keys(sample).filter((k) => k !== 'data')]);
    expect(RECORD_OFFSET).toMatchObject({ seq: 8, devNum: 34, pairSeq: 48, latencyNs: 56 });
  });

  it('writes the golden bytes of one record (the on-disk layout does not move)', () => {
    const expected = parseHex(
      [
        '42000000 01 00 02 04', // length 66, version 1, kind message, dir device-to-driver, rev r4
        '0605040302010000', // seq
        '1817161514131211', // monoNs
        '2827262524232221', // wallNs
        '0100 0302 41 07 efbe', // channel, devNum, msgType, msgId, token
        '01000080 22000000', // problems, flags
        'ffffffffffffffff', // pairSeq: none
        '3433323100000000', // latencyNs
        'dead', // data
      ]
        .map((l) => l.replace(/\/\/.*/, ''))
        .join(''),
    )!;
    expect(toHex(encodeRecord(sample))).toBe(toHex(expected));
    expect(toHex(fastBytes(sample, sample.monoNs - 1000n))).toBe(toHex(expected));
  });

  it('reads back what it writes, and the view agrees with the reader', () => {
    fc.assert(
      fc.property(arbRecord(), (r) => {
        const bytes = encodeRecord(r);
        const parsed = readRecord(bytes);
        expect(parsed).toEqual({ ok: true, value: r, length: bytes.length });
        const v = new RecordView(bytes);
        expect(v.length).toBe(bytes.length);
        // The view's conventions: no device is NO_DEV, no paired record -1, latency a number.
        const viewed: Partial<Record<RecordFieldName, unknown>> = { devNum: r.devNum ?? NO_DEV, pairSeq: r.pairSeq ?? -1, latencyNs: Number(r.latencyNs) };
        for (const f of RECORD_FIELDS) {
          if (f.name === 'length' || f.name === 'version') continue;
          if (f.name === 'latencyNs' && r.latencyNs >= 2n ** 53n) continue; // exact only below 2^53
          expect(v[f.name], f.name).toEqual(f.name in viewed ? viewed[f.name] : r[f.name]);
        }
        expect(toHex(v.data())).toBe(toHex(r.data));
        expect(v.toRecord()).toEqual(r);
      }),
    );
  });

  it("the recorder's fast path writes the table-driven writer's bytes for any record", () => {
    const anyU64 = fc.bigInt({ min: 0n, max: U64 });
    // Mono times near the clock's start take the number path (with carries), far ones the bigint path.
    const startAndMono = fc.oneof(
      fc.tuple(anyU64, anyU64),
      fc.tuple(fc.bigInt({ min: 0n, max: U64 - 2n ** 53n }), fc.bigInt({ min: 0n, max: 2n ** 53n - 1n })).map(([start, rel]) => [start, start + rel] as const),
    );
    fc.assert(
      fc.property(arbRecord(), startAndMono, (r, [start, mono]) => {
        const rec = { ...r, monoNs: mono };
        expect(toHex(fastBytes(rec, start))).toBe(toHex(encodeRecord(rec)));
      }),
      { numRuns: 2000 },
    );
  });

  it('names a damaged enumerated field and its offset, from the table', () => {
    const bytes = encodeRecord(sample);
    for (const [name, noun, max] of [
      ['kind', 'record kind', 6],
      ['dir', 'direction', 2],
      ['rev', 'revision code', 4],
    ] as const) {
      const bad = bytes.slice();
      bad[RECORD_OFFSET[name]] = 9;
      expect(readRecord(bad, 0)).toEqual({ ok: false, offset: RECORD_OFFSET[name], error: `${noun} 0..${max} expected, saw 9` });
    }
  });

  it("the scans' cheap check agrees with readRecord on what is sound", () => {
    fc.assert(
      fc.property(arbRecord(), fc.nat({ max: 63 }), fc.nat({ max: 255 }), fc.nat({ max: 8 }), (r, at, byte, cut) => {
        const bytes = encodeRecord(r);
        if (at !== RECORD_OFFSET.length) bytes[at] = byte;
        const avail = bytes.length - cut;
        const parsed = readRecord(bytes.subarray(0, avail));
        expect(soundRecordLength(new DataView(bytes.buffer), 0, avail)).toBe(parsed.ok ? parsed.length : -1);
      }),
    );
  });
});
