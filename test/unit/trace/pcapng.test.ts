import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { fromRecords, toRecords, type RecordBlock } from '../../../src/trace/block';
import { exportRecords } from '../../../src/trace/exportWriter';
import { CAPTURE_FORMAT, metaToJson, type CaptureMeta } from '../../../src/trace/meta';
import { importPcapng, PcapngWriter, type PcapngWriterOptions } from '../../../src/trace/pcapng';
import { encodeRecord, type TraceRecord } from '../../../src/trace/record';
import { parseHex, toHex } from '../../../src/util/hex';
import { SampleBuilder, sampleMeta, sampleRecords } from './sample';

function exportBytes(meta: CaptureMeta, records: TraceRecord[] | RecordBlock[], opts: PcapngWriterOptions = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  const blocks = records.length > 0 && 'kind' in records[0]! ? fromRecords(records as TraceRecord[]) : (records as RecordBlock[]);
  exportRecords(new PcapngWriter((c) => chunks.push(c), opts), meta, blocks);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const hex = (s: string): Uint8Array => parseHex(s.replace(/\/\/[^\n]*/g, ''))!;
const ascii = (s: string): string => toHex(new TextEncoder().encode(s));

/** Block boundaries of a little-endian pcapng (an independent walker for the tests). */
function blockEnds(bytes: Uint8Array): { type: number; end: number }[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { type: number; end: number }[] = [];
  for (let o = 0; o < bytes.length; o += dv.getUint32(o + 4, true)) out.push({ type: dv.getUint32(o, true), end: o + dv.getUint32(o + 4, true) });
  return out;
}

/** The same file in big-endian byte order: block and option fields swapped, packet data kept. */
function toBigEndian(le: Uint8Array): Uint8Array {
  const out = le.slice();
  const src = new DataView(le.buffer, le.byteOffset, le.byteLength);
  const dst = new DataView(out.buffer);
  const s32 = (o: number): void => dst.setUint32(o, src.getUint32(o, true));
  const s16 = (o: number): void => dst.setUint16(o, src.getUint16(o, true));
  const s64 = (o: number): void => dst.setBigUint64(o, src.getBigUint64(o, true));
  const opts = (o: number, end: number, wide: Record<number, 'u32' | 'u64'>): void => {
    while (o + 4 <= end) {
      const code = src.getUint16(o, true);
      const len = src.getUint16(o + 2, true);
      s16(o);
      s16(o + 2);
      if (wide[code] === 'u32') s32(o + 4);
      if (wide[code] === 'u64') s64(o + 4);
      if (code === 0) return;
      o += 4 + ((len + 3) & ~3);
    }
  };
  for (const { type, end } of blockEnds(le)) {
    const start = end - src.getUint32(end - 4, true);
    s32(start);
    s32(start + 4);
    s32(end - 4);
    if (type === 0x0a0d0d0a) {
      s32(start + 8);
      s16(start + 12);
      s16(start + 14);
      s64(start + 16);
      opts(start + 24, end - 4, {});
    } else if (type === 1) {
      s16(start + 8);
      s16(start + 10);
      s32(start + 12);
      opts(start + 16, end - 4, {});
    } else if (type === 6) {
      const caplen = src.getUint32(start + 20, true);
      for (const f of [8, 12, 16, 20, 24]) s32(start + f);
      opts(start + 28 + ((caplen + 3) & ~3), end - 4, { 2: 'u32', 5: 'u64' });
    }
  }
  return out;
}

function doorbellRecord(): TraceRecord {
  return {
    kind: 'doorbell', dir: 'driver-to-device', rev: null, seq: 5, monoNs: 0x11n, wallNs: 0x0000_0001_0000_0002n,
    channel: 0, devNum: null, msgType: 0, msgId: 0, token: 0, problems: 0, flags: 0, pairSeq: null, latencyNs: 0n, data: new Uint8Array(0),
  };
}

const DOORBELL_RECORD_HEX = `
  40 00 00 00 01 01 01 00                    // length 64, version 1, kind doorbell, dir driver-to-device, rev unknown
  05 00 00 00 00 00 00 00                    // seq 5
  11 00 00 00 00 00 00 00                    // monoNs
  02 00 00 00 01 00 00 00                    // wallNs 0x1_0000_0002
  00 00 ff ff 00 00 00 00                    // channel 0, devNum none, type, id, token
  00 00 00 00 00 00 00 00                    // problems, flags
  ff ff ff ff ff ff ff ff                    // pairSeq none
  00 00 00 00 00 00 00 00                    // latency`;

describe('pcapng writer: byte-exact blocks (docs/formats.md §1)', () => {
  const meta = sampleMeta({ board: 'b', boardDescription: 'd', app: 'a', notes: ['n1'] });
  const bytes = exportBytes(meta, [doorbellRecord()], { os: 'o', infoText: true });
  const blocks = blockEnds(bytes);

  it('writes one SHB, three IDBs and one EPB', () => {
    expect(blocks.map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 1, 1, 6]);
    expect(blocks.at(-1)!.end).toBe(bytes.length);
  });

  it('section header: byte-order magic, version 1.0, length -1, hardware/os/userappl, meta and notes as comments', () => {
    const json = 'amp-trace-meta=' + JSON.stringify(metaToJson(meta));
    expect(json.length).toBe(251);
    const shb = bytes.subarray(0, blocks[0]!.end);
    const expected = hex(`
      0a 0d 0d 0a  40 01 00 00                   // SHB, total length 320
      4d 3c 2b 1a  01 00 00 00                   // byte-order magic (LE), major 1, minor 0
      ff ff ff ff ff ff ff ff                    // section length -1
      02 00 01 00  62 00 00 00                   // shb_hardware "b"
      03 00 01 00  6f 00 00 00                   // shb_os "o"
      04 00 01 00  61 00 00 00                   // shb_userappl "a"
      01 00 fb 00  ${ascii(json)} 00             // opt_comment, 251 bytes + 1 pad
      01 00 02 00  6e 31 00 00                   // opt_comment "n1"
      00 00 00 00                                // opt_endofopt
      40 01 00 00`);
    expect(toHex(shb)).toBe(toHex(expected));
  });

  it('interface description: link type 252, snaplen 0, if_name, if_description, if_tsresol 9', () => {
    const idb = bytes.subarray(blocks[0]!.end, blocks[1]!.end);
    const expected = hex(`
      01 00 00 00  5c 00 00 00                   // IDB, total length 92
      fc 00 00 00  00 00 00 00                   // LINKTYPE_WIRESHARK_UPPER_PDU, reserved, snaplen 0
      02 00 10 00  ${ascii('vmsg-b-to-device')}  // if_name, 16 bytes
      03 00 24 00  ${ascii('d: driver-to-device queue (outbound)')} // if_description, 36 bytes
      09 00 01 00  09 00 00 00                   // if_tsresol 10^-9
      00 00 00 00                                // opt_endofopt
      5c 00 00 00`);
    expect(toHex(idb)).toBe(toHex(expected));
    const names = [1, 2, 3].map((i) => new TextDecoder().decode(bytes.subarray(blocks[i - 1]!.end + 20, blocks[i - 1]!.end + 36)));
    expect(names[2]).toBe('vmsg-b-session\0\0');
  });

  it('enhanced packet: ns timestamp, exported-PDU TLVs, the record, direction flags and packet id', () => {
    const plain = exportBytes(meta, [doorbellRecord()]);
    const expected = hex(`
      06 00 00 00  94 00 00 00                   // EPB, total length 148
      00 00 00 00                                // interface 0 (to-device)
      01 00 00 00  02 00 00 00                   // timestamp high, low: wallNs 0x1_0000_0002 ns
      5c 00 00 00  5c 00 00 00                   // captured = original = 92
      00 0c 00 0c  ${ascii('virtio_msg')} 00 00  // EXP_PDU_TAG_DISSECTOR_NAME (big-endian), NUL padding counted: 12
      00 23 00 04  00 00 00 00                   // EXP_PDU_TAG_P2P_DIRECTION: 0 sent (driver → device)
      00 00 00 00                                // end of tags
      ${DOORBELL_RECORD_HEX}
      02 00 04 00  02 00 00 00                   // epb_flags: outbound
      05 00 08 00  05 00 00 00 00 00 00 00       // epb_packetid: seq 5
      00 00 00 00                                // opt_endofopt
      94 00 00 00`);
    expect(toHex(plain.subarray(blockEnds(plain)[3]!.end))).toBe(toHex(expected));
  });

  it('enhanced packet with the optional Info tag', () => {
    const epb = bytes.subarray(blocks[3]!.end);
    const expected = hex(`
      06 00 00 00  b4 00 00 00                   // EPB, total length 180
      00 00 00 00                                // interface 0 (to-device)
      01 00 00 00  02 00 00 00                   // timestamp high, low: wallNs 0x1_0000_0002
      7c 00 00 00  7c 00 00 00                   // captured = original = 124
      00 0c 00 0c  ${ascii('virtio_msg')} 00 00  // EXP_PDU_TAG_DISSECTOR_NAME (BE), padded length 12
      00 23 00 04  00 00 00 00                   // EXP_PDU_TAG_P2P_DIRECTION: 0 sent
      00 24 00 1c  ${ascii('DOORBELL driver rang device')} 00 // EXP_PDU_TAG_COL_INFO_TEXT, 27 + 1 pad
      00 00 00 00                                // end of tags
      ${DOORBELL_RECORD_HEX}
      02 00 04 00  02 00 00 00                   // epb_flags: outbound
      05 00 08 00  05 00 00 00 00 00 00 00       // epb_packetid: seq 5
      00 00 00 00                                // opt_endofopt
      b4 00 00 00`);
    expect(toHex(epb)).toBe(toHex(expected));
  });

  it('user0 encapsulation: link type 147 and the bare record (the 108-byte example shape plus a 64-byte record)', () => {
    const raw = exportBytes(meta, [doorbellRecord()], { encapsulation: 'user0' });
    const b = blockEnds(raw);
    expect(new DataView(raw.buffer).getUint16(b[0]!.end + 8, true)).toBe(147);
    const expected = hex(`
      06 00 00 00  78 00 00 00                   // EPB, total length 120 = 32 + 64 + 8 + 12 + 4
      00 00 00 00  01 00 00 00  02 00 00 00      // interface 0, timestamp
      40 00 00 00  40 00 00 00                   // captured = original = 64
      ${DOORBELL_RECORD_HEX}
      02 00 04 00  02 00 00 00                   // epb_flags: outbound
      05 00 08 00  05 00 00 00 00 00 00 00       // epb_packetid
      00 00 00 00  78 00 00 00`);
    expect(toHex(raw.subarray(b[3]!.end))).toBe(toHex(expected));
  });

  it('puts problems and markers into packet comments and pads the Info TLV with NULs counted in its length', () => {
    const b = new SampleBuilder();
    b.marker('bookmark', 'here');
    b.message({ rev: 'r2', dir: 'device-to-driver', bytes: Uint8Array.of(1, 9, 0) });
    const out = exportBytes(meta, b.records, { infoText: true });
    const text = new TextDecoder().decode(out);
    expect(text).toContain('BOOKMARK here');
    expect(text).toContain('truncated: r2 header is 6 bytes but 3 received');
    expect(text).toContain('MALFORMED 3 bytes: r2 header is 6 bytes but 3 received\0');
  });

  it('streams in chunks: small chunks give the same bytes, each chunk a fresh buffer', () => {
    const records = sampleRecords();
    const whole = exportBytes(sampleMeta(), records);
    const chunks: Uint8Array[] = [];
    exportRecords(new PcapngWriter((c) => chunks.push(c), { chunkBytes: 256 }), sampleMeta(), fromRecords(records));
    expect(chunks.length).toBeGreaterThan(10);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
    expect(toHex(Uint8Array.from(chunks.flatMap((c) => [...c])))).toBe(toHex(whole));
  });

  it('rejects misuse (programmer errors)', () => {
    const w = new PcapngWriter(() => {});
    expect(() => w.end()).not.toThrow();
    const w2 = new PcapngWriter(() => {});
    w2.begin(meta);
    expect(() => w2.begin(meta)).toThrow(/twice/);
  });
});

describe('pcapng import', () => {
  const meta = sampleMeta();
  const records = sampleRecords();
  const file = exportBytes(meta, records);

  it('export → import gives identical records and metadata (every kind, every revision, malformed)', () => {
    const r = importPcapng(file);
    expect(r.ok && r.value.notes).toEqual([]);
    if (!r.ok) return;
    expect(r.value.meta).toEqual(meta);
    expect(toRecords(r.value.blocks)).toEqual(records);
    expect(new Set(records.map((x) => x.rev))).toEqual(new Set([null, 'r0', 'r2', 'r3', 'r4']));
    expect(new Set(records.map((x) => x.kind))).toEqual(new Set(['message', 'doorbell', 'queue-state', 'vq-index', 'marker', 'finding']));
  });

  it('keeps extreme values exact: 53-bit seq, 64-bit times and latencies', () => {
    const big: TraceRecord[] = [
      { ...doorbellRecord(), seq: Number.MAX_SAFE_INTEGER, monoNs: 0xffff_ffff_ffff_fffen, wallNs: 0xffff_ffff_ffff_ffffn, latencyNs: 0xffff_ffff_ffff_ffffn },
      { ...doorbellRecord(), seq: 2 ** 32 + 7, dir: 'device-to-driver', pairSeq: 2 ** 40, latencyNs: 1n, problems: 0xffff_ffff, flags: 0xffff_ffff, channel: 0xffff, devNum: 0xfffe, token: 0xffff },
      { ...doorbellRecord(), kind: 'marker', dir: null, seq: 0, wallNs: 0n, monoNs: 0n, data: new TextEncoder().encode('x'.repeat(70_000)) },
    ];
    const r = importPcapng(exportBytes(meta, big));
    expect(r.ok && toRecords(r.value.blocks)).toEqual(big);
  });

  it('keeps long session notes as comments and as many as fit in the metadata comment', () => {
    const notes = Array.from({ length: 10 }, (_, i) => `${i}`.repeat(10_000));
    const r = importPcapng(exportBytes({ ...meta, notes }, records.slice(0, 2)));
    expect(r.ok && r.value.notes).toEqual([]);
    expect(r.ok && r.value.meta.notes).toEqual(notes.slice(0, 6));
    expect(r.ok && toRecords(r.value.blocks)).toEqual(records.slice(0, 2));
  });

  it('reads a big-endian section', () => {
    const r = importPcapng(toBigEndian(file));
    expect(r.ok && r.value.notes).toEqual([]);
    expect(r.ok && toRecords(r.value.blocks)).toEqual(records);
    expect(r.ok && r.value.meta).toEqual(meta);
  });

  it('skips unknown blocks and foreign packets, noting the latter', () => {
    const ends = blockEnds(file);
    const custom = hex('ad 0b 00 00 14 00 00 00 01 02 03 04 05 06 07 08 14 00 00 00'); // custom block, 20 bytes
    const at = ends[6]!.end;
    const withCustom = Uint8Array.from([...file.subarray(0, at), ...custom, ...file.subarray(at)]);
    const r = importPcapng(withCustom);
    expect(r.ok && r.value.notes).toEqual([]);
    expect(r.ok && toRecords(r.value.blocks)).toEqual(records);

    // A packet whose dissector-name tag names someone else is not ours.
    const foreign = file.slice();
    const tag = ends[3]!.end + 28 + 4;
    foreign.set(new TextEncoder().encode('virtio_mdg'), tag);
    const f = importPcapng(foreign);
    expect(f.ok && f.value.notes).toEqual(['1 packets are not virtio_msg trace records; skipped']);
    expect(f.ok && toRecords(f.value.blocks)).toEqual(records.slice(1));
  });

  it('skips a packet whose record is damaged and keeps the rest, saying where', () => {
    const ends = blockEnds(file);
    const damaged = file.slice();
    const epb = ends[4]!.end; // the second packet
    const rec = epb + 28 + 16 + 8 + 4;
    damaged[rec + 4] = 9; // record version
    const r = importPcapng(damaged);
    expect(r.ok && r.value.notes).toEqual([`packet 2 at offset ${epb}: damaged trace record (starting at offset ${rec}): at offset ${rec + 4}: record version 1 expected, saw 9; skipped`]);
    expect(r.ok && toRecords(r.value.blocks)).toEqual([records[0], ...records.slice(2)]);
  });

  it('falls back to the section header when the metadata comment is missing', () => {
    const b = new SampleBuilder();
    b.doorbell('device-to-driver');
    const noMeta = exportBytes(meta, b.records);
    const at = new TextDecoder('latin1').decode(noMeta).indexOf('amp-trace-meta=');
    noMeta[at] = 'A'.charCodeAt(0);
    const r = importPcapng(noMeta);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.notes).toEqual(['no "amp-trace-meta=" section comment: metadata derived from the section header and the first record']);
    expect(r.value.meta).toMatchObject({ format: CAPTURE_FORMAT, board: meta.board, app: meta.app, startWallNs: b.records[0]!.wallNs, startMonoNs: b.records[0]!.monoNs });
  });

  it('refuses files that are not ours, saying what was expected and seen', () => {
    expect(importPcapng(new Uint8Array(0))).toEqual({ ok: false, error: 'not a pcapng file: expected a section header block (type 0x0a0d0d0a) at offset 0, saw 0 bytes' });
    const pcap = hex('d4 c3 b2 a1 02 00 04 00 00 00 00 00 00 00 00 00 ff ff 00 00 01 00 00 00');
    expect(importPcapng(pcap)).toEqual({ ok: false, error: 'not a pcapng file: expected a section header block (type 0x0a0d0d0a) at offset 0, saw 0xa1b2c3d4' });
    const empty = exportBytes({ ...meta }, []).subarray(0, blockEnds(exportBytes(meta, []))[0]!.end);
    const noMeta = empty.slice();
    noMeta[new TextDecoder('latin1').decode(noMeta).indexOf('amp-trace-meta=')] = 0x41;
    const r = importPcapng(noMeta);
    expect(r.ok).toBe(false);
  });

  it('a truncated file keeps every whole packet and notes the offset of the torn block', () => {
    const ends = blockEnds(file);
    const lastFull = ends.at(-2)!.end;
    const r = importPcapng(file.subarray(0, lastFull + 20));
    expect(r.ok && r.value.notes).toEqual([`truncated or damaged pcapng block (type 0x00000006) at offset ${lastFull}: it needs ${ends.at(-1)!.end - lastFull} bytes but 20 are left; stopped here, ${records.length - 1} records kept`]);
    const short = importPcapng(file.subarray(0, lastFull + 10));
    expect(short.ok && short.value.notes).toEqual([`truncated pcapng block at offset ${lastFull}: 10 bytes left, a block needs at least 12; stopped here, ${records.length - 1} records kept`]);
    expect(r.ok && toRecords(r.value.blocks)).toEqual(records.slice(0, -1));
  });

  it('any truncation keeps exactly the whole packets before the cut', () => {
    const ends = blockEnds(file);
    const shbEnd = ends[0]!.end;
    fc.assert(
      fc.property(fc.integer({ min: shbEnd, max: file.length }), (cut) => {
        const r = importPcapng(file.subarray(0, cut));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const whole = ends.filter((b) => b.type === 6 && b.end <= cut).length;
        expect(toRecords(r.value.blocks)).toEqual(records.slice(0, whole));
        expect(r.value.notes.length).toBe(ends.some((b) => b.end === cut) ? 0 : 1);
      }),
      { numRuns: 150 },
    );
  });

  it('garbage never throws; a flipped byte keeps every packet before it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (junk, withShb) => {
        const input = withShb ? Uint8Array.from([...file.subarray(0, 24), ...junk]) : junk;
        const r = importPcapng(input);
        if (r.ok) expect(Array.isArray(r.value.notes)).toBe(true);
        else expect(r.error).toMatch(/pcapng/);
      }),
      { numRuns: 300 },
    );
    const ends = blockEnds(file);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: file.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = file.slice();
        bad[at]! ^= x;
        const r = importPcapng(bad);
        if (!r.ok) return;
        const before = ends.filter((b) => b.type === 6 && b.end <= at).length;
        expect(toRecords(r.value.blocks).slice(0, before)).toEqual(records.slice(0, before));
      }),
      { numRuns: 300 },
    );
  });

  it('encodes records byte-for-byte into the packet data', () => {
    const text = toHex(file);
    for (const rec of records) expect(text).toContain(toHex(encodeRecord(rec)));
  });
});
