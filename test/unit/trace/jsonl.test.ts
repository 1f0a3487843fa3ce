import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromRecords, toRecords } from '../../../src/trace/block';
import { RULES } from '../../../src/trace/conformance';
import { exportRecords } from '../../../src/trace/exportWriter';
import { importJsonl, JsonlWriter, MAX_LINE_NOTES } from '../../../src/trace/jsonl';
import type { CaptureMeta } from '../../../src/trace/meta';
import type { TraceRecord } from '../../../src/trace/record';
import { arbRecord, sampleMeta, sampleRecords, sessionRecords } from './sample';

function exportText(records: TraceRecord[], meta: CaptureMeta = sampleMeta(), chunkChars?: number): { text: string; chunks: number } {
  const parts: string[] = [];
  const dec = new TextDecoder();
  exportRecords(new JsonlWriter((c) => parts.push(dec.decode(c)), chunkChars === undefined ? {} : { chunkChars }), meta, fromRecords(records));
  return { text: parts.join(''), chunks: parts.length };
}

function imported(text: string): { meta: CaptureMeta; records: TraceRecord[]; notes: string[] } {
  const r = importJsonl(text);
  if (!r.ok) throw new Error(r.error);
  return { meta: r.value.meta, records: toRecords(r.value.blocks), notes: r.value.notes };
}

const HEADER =
  '{"type":"capture","format":"amp-trace/1","app":"amp-workbench 0.1.0","board":"sim-qemu-amp-pci","boardDescription":"QEMU virtio-msg-amp-pci (simulated)","revision":"r4","queueFormat":"vmamp-shmem-v1","link":"sim-qemu-amp-pci (worker thread)","startWallNs":"1763700000123456789","startMonoNs":"5000000000","notes":["bring-up of i2c dev 1"]}';

describe('JSONL export', () => {
  it('writes the capture header, then one decoded record per line (golden)', () => {
    const rs = sessionRecords();
    const lines = exportText([rs[7]!, rs[12]!, rs[24]!, rs[26]!]).text.split('\n');
    expect(lines).toEqual([
      HEADER,
      '{"type":"record","seq":"7","monoNs":"5000086415","wallNs":"1763700000123543204","kind":"message","dir":"device-to-driver","rev":"r4","dev":1,"channel":1,"msgType":1,"msgId":2,"token":2,"problems":[],"flags":["response"],"pairSeq":"6","latencyNs":"12345","name":"GET_DEVICE_INFO","summary":"GET_DEVICE_INFO dev 1 token 0x0002 device_id=34 vendor_id=0x554d4551 device_uuid=16 bytes num_feature_blocks=2","problemReasons":[],"fields":{"device_id":34,"vendor_id":1431127377,"device_uuid":"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00","num_feature_blocks":2,"config_size":4,"max_virtqueues":1,"admin_vq_start":0,"admin_vq_count":0},"data":"01020100020034002200000051454d55000000000000000000000000000000000200000004000000010000000000000000000000"}',
      '{"type":"record","seq":"12","monoNs":"5000148140","wallNs":"1763700000123604929","kind":"vq-index","dir":null,"rev":null,"dev":1,"channel":0,"msgType":0,"msgId":0,"token":0,"problems":[],"flags":[],"pairSeq":null,"latencyNs":"0","name":"VQ_INDEX","summary":"VQ_INDEX dev 1 q0 avail.idx 1 used.idx 0 last seen 0 in flight 1","problemReasons":[],"fields":{"availIdx":1,"usedIdx":0,"lastSeenUsed":0,"inFlight":1},"data":"0100000000000100"}',
      '{"type":"record","seq":"24","monoNs":"5000296280","wallNs":"1763700000123753069","kind":"marker","dir":null,"rev":null,"dev":1,"channel":0,"msgType":0,"msgId":4,"token":0,"problems":[],"flags":[],"pairSeq":null,"latencyNs":"0","name":"BOOKMARK","summary":"BOOKMARK dev 1 look here, \\"really\\"\\nsecond line","problemReasons":[],"fields":null,"text":"look here, \\"really\\"\\nsecond line","data":"6c6f6f6b20686572652c20227265616c6c79220a7365636f6e64206c696e65"}',
      '{"type":"record","seq":"26","monoNs":"5000320970","wallNs":"1763700000123777759","kind":"message","dir":"device-to-driver","rev":"r2","dev":null,"channel":1,"msgType":0,"msgId":0,"token":0,"problems":["truncated"],"flags":["noHeader"],"pairSeq":null,"latencyNs":"0","name":"MALFORMED","summary":"MALFORMED 3 bytes: r2 header is 6 bytes but 3 received","problemReasons":[{"offset":3,"code":"truncated","reason":"r2 header is 6 bytes but 3 received"}],"fields":null,"data":"010900"}',
      '',
    ]);
  });

  it('names bits that no code covers, so any mask survives', () => {
    const r = { ...sessionRecords()[0]!, problems: 0x8000_0001, flags: 0x8000 | 0x1 };
    const line = JSON.parse(exportText([r]).text.split('\n')[1]!) as { problems: string[]; flags: string[] };
    expect(line.problems).toEqual(['truncated', 'bit31']);
    expect(line.flags).toEqual(['request', 'bit15']);
  });

  it('streams in chunks that concatenate to the same text', () => {
    const rs = sessionRecords();
    const small = exportText(rs, sampleMeta(), 300);
    expect(small.chunks).toBeGreaterThan(10);
    expect(small.text).toBe(exportText(rs).text);
  });
});

describe('JSONL import', () => {
  it('writes a finding with its text and its rule, section, severity and offending record', () => {
    const f = sampleRecords().find((r) => r.kind === 'finding')!;
    const line = JSON.parse(exportText([f]).text.split('\n')[1]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      kind: 'finding',
      name: 'FINDING',
      msgId: RULES.findIndex((r) => r.id === 'request-answered'),
      msgType: 0,
      pairSeq: String(f.pairSeq),
      text: `GET_DEVICE_STATUS dev 1 (record ${f.pairSeq! - 1}) got no response before its timeout`,
      finding: { rule: 'request-answered', section: 'virtio-msg §11, §17.2', severity: 'error', seq: String(f.pairSeq) },
    });
    expect(imported(exportText([f]).text).records).toEqual([f]);
  });

  it('gives back every record exactly: all kinds, revisions, malformed, pairs', () => {
    const rs = [...sampleRecords()];
    const session = sessionRecords().map((r) => ({ ...r, seq: r.seq + rs.length, pairSeq: r.pairSeq === null ? null : r.pairSeq + rs.length }));
    const all = [...rs, ...session];
    const text = exportText(all).text;
    const back = imported(text);
    expect(back.notes).toEqual([]);
    expect(back.meta).toEqual(sampleMeta());
    expect(back.records).toEqual(toRecords(fromRecords(all)));
    // The file's bytes read the same (decoded line by line).
    for (const windowBytes of [undefined, 7, 1000]) {
      const fromBytes = importJsonl(new TextEncoder().encode(text), windowBytes === undefined ? {} : { windowBytes });
      expect(fromBytes.ok && toRecords(fromBytes.value.blocks), `window ${windowBytes}`).toEqual(back.records);
    }
  });

  it('round-trips arbitrary records and metadata', () => {
    const arbMeta = fc.record({
      board: fc.string(),
      notes: fc.array(fc.string()),
      startWallNs: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
      startMonoNs: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
    });
    fc.assert(
      fc.property(fc.array(arbRecord(), { maxLength: 30 }), arbMeta, (rs, m) => {
        const meta = sampleMeta(m);
        const back = imported(exportText(rs, meta).text);
        expect(back.notes).toEqual([]);
        expect(back.meta).toEqual(meta);
        expect(back.records).toEqual(toRecords(fromRecords(rs)));
      }),
      { numRuns: 150 },
    );
  });

  it('accepts CRLF line ends and blank lines', () => {
    const rs = sessionRecords();
    const text = exportText(rs).text.replaceAll('\n', '\r\n\r\n');
    expect(imported(text).records).toEqual(toRecords(fromRecords(rs)));
  });

  it('keeps the records around damaged lines and reports each bad line: number, field, expected, seen', () => {
    const rs = sessionRecords();
    const lines = exportText(rs).text.split('\n');
    // lines[0] is the header, so record seq k is on line k + 2.
    lines[3] = '{"type":"record","seq":"2",'; // record 2: cut short
    lines[5] = lines[5]!.replace(/"monoNs":"\d+"/, '"monoNs":5000049380'); // record 4: a number, not a string
    lines[6] = lines[6]!.replace('"kind":"message"', '"kind":"packet"'); // record 5
    lines[9] = lines[9]!.replace(/"data":"[0-9a-f]*"/, '"data":"0g"'); // record 8
    lines[11] = '[1,2,3]'; // record 10
    lines[12] = lines[12]!.replace('"dev":1', '"dev":65535'); // record 11
    const last = lines.length - 2;
    lines[last] = lines[last]!.slice(0, 40); // the final record, torn
    const back = imported(lines.join('\n'));
    expect(back.notes).toEqual([
      expect.stringMatching(/^line 4: not valid JSON \(.*\); a truncated last line means the export was cut short$/),
      'line 6: field "monoNs": expected a decimal string 0..18446744073709551615, saw 5000049380',
      'line 7: field "kind": expected one of message, doorbell, queue-state, vq-index, marker, finding, buffer, saw "packet"',
      'line 10: field "data": expected a string of hex bytes, saw "0g"',
      'line 12: expected a record object {"type":"record",...}, saw [1,2,3]',
      'line 13: field "dev": expected null or an integer 0..65534, saw 65535',
      expect.stringMatching(new RegExp(`^line ${last + 1}: not valid JSON`)),
    ]);
    const lost = new Set([2, 4, 5, 8, 10, 11, rs.length - 1]);
    expect(back.records).toEqual(toRecords(fromRecords(rs.filter((r) => !lost.has(r.seq)))));
  });

  it('lists the first bad lines and counts the rest', () => {
    const text = exportText([]).text + 'x\n'.repeat(MAX_LINE_NOTES + 50);
    const back = imported(text);
    expect(back.notes).toHaveLength(MAX_LINE_NOTES + 1);
    expect(back.notes.at(-1)).toBe(`50 more bad lines not listed (${MAX_LINE_NOTES + 50} in all)`);
  });

  it('fails with a reason when the header line is missing or wrong', () => {
    const body = exportText(sessionRecords()).text.split('\n').slice(1).join('\n');
    const noHeader = importJsonl(body);
    expect(noHeader.ok).toBe(false);
    expect(!noHeader.ok && noHeader.error).toMatch(/^line 1: expected the capture header \{"type":"capture",...\}, saw \{"type":"record",/);
    const badMeta = importJsonl(HEADER.replace('"startMonoNs":"5000000000"', '"startMonoNs":-1') + '\n');
    expect(badMeta).toEqual({ ok: false, error: 'line 1: capture metadata field "startMonoNs": expected a decimal string of nanoseconds, saw -1' });
    expect(importJsonl('\n\n')).toEqual({ ok: false, error: 'no capture header line: the file is empty' });
  });

  it('never throws on garbage', () => {
    fc.assert(
      fc.property(fc.string(), (tail) => {
        const r = importJsonl(HEADER + '\n' + tail);
        expect(r.ok).toBe(true);
      }),
      { numRuns: 200 },
    );
    fc.assert(fc.property(fc.uint8Array(), (bytes) => void importJsonl(bytes)));
  });
});
