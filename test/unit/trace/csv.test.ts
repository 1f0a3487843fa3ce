import { describe, expect, it } from 'vitest';
import { fromRecords } from '../../../src/trace/block';
import { CSV_COLUMNS, csvField, CsvWriter, isoNs } from '../../../src/trace/csv';
import { describeRecord } from '../../../src/trace/describe';
import { exportRecords } from '../../../src/trace/exportWriter';
import type { TraceRecord } from '../../../src/trace/record';
import { sampleMeta, sampleRecords, sessionRecords } from './sample';

function exportText(records: TraceRecord[], chunkChars?: number): { text: string; chunks: number } {
  const parts: string[] = [];
  const dec = new TextDecoder();
  exportRecords(new CsvWriter((c) => parts.push(dec.decode(c)), chunkChars === undefined ? {} : { chunkChars }), sampleMeta(), fromRecords(records));
  return { text: parts.join(''), chunks: parts.length };
}

/** An independent RFC 4180 reader: rows of fields, quoted fields may hold commas, quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let f = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        expect(q, 'closing quote').toBeGreaterThanOrEqual(0);
        f += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          f += '"';
          i++;
        } else break;
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') f += text[i++];
      expect(f, 'unquoted field without quote or LF').not.toMatch(/["\n]/);
    }
    row.push(f);
    if (text[i] === ',') {
      i++;
    } else {
      expect(text.slice(i, i + 2), 'rows end with CRLF').toBe('\r\n');
      i += 2;
      rows.push(row);
      row = [];
    }
  }
  return rows;
}

describe('CSV export', () => {
  it('writes the header and one row per record in the documented column order (golden)', () => {
    const rs = sessionRecords();
    expect(exportText([rs[0]!, rs[7]!, rs[24]!, rs[26]!, rs[27]!]).text).toBe(
      [
        'seq,time_ns,mono_ns,wall_iso,dir,dev,kind,msg,msg_id,token,size,pair_seq,latency_ns,problems,summary,data_hex',
        '0,0,5000000000,2025-11-21T04:40:00.123456789Z,,,marker,ATTACH,,,29,,,,"ATTACH sim-qemu-amp-pci, revision r4",73696d2d71656d752d616d702d7063692c207265766973696f6e207234',
        '7,86415,5000086415,2025-11-21T04:40:00.123543204Z,device-to-driver,1,message,GET_DEVICE_INFO,0x02,0x0002,52,6,12345,,GET_DEVICE_INFO dev 1 token 0x0002 device_id=34 vendor_id=0x554d4551 device_uuid=16 bytes num_feature_blocks=2,01020100020034002200000051454d55000000000000000000000000000000000200000004000000010000000000000000000000',
        '24,296280,5000296280,2025-11-21T04:40:00.123753069Z,,1,marker,BOOKMARK,,,31,,,,"BOOKMARK dev 1 look here, ""really""\nsecond line",6c6f6f6b20686572652c20227265616c6c79220a7365636f6e64206c696e65',
        '26,320970,5000320970,2025-11-21T04:40:00.123777759Z,device-to-driver,,message,MALFORMED,,,3,,,truncated,MALFORMED 3 bytes: r2 header is 6 bytes but 3 received,010900',
        '27,333315,5000333315,2025-11-21T04:40:00.123790104Z,,,marker,NOTE,,,14,,,,NOTE µs – ok ✓,c2b57320e28093206f6b20e29c93',
        '',
      ].join('\r\n'),
    );
  });

  it('writes a finding: kind, name, device, the offending record in pair_seq, severity, rule and text in the summary', () => {
    const f = sampleRecords().find((r) => r.kind === 'finding')!;
    const [, row] = parseCsv(exportText([f]).text);
    expect(row!.slice(4, 15)).toEqual(['', '1', 'finding', 'FINDING', '', '', String(f.data.length), String(f.pairSeq), '', '', `FINDING dev 1 error request-answered (record ${f.pairSeq}): GET_DEVICE_STATUS dev 1 (record ${f.pairSeq! - 1}) got no response before its timeout`]);
  });

  it('quotes per RFC 4180', () => {
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('one\ntwo')).toBe('"one\ntwo"');
    expect(csvField('one\rtwo')).toBe('"one\rtwo"');
    expect(csvField('')).toBe('');
  });

  it('reads back with an RFC 4180 parser: 16 fields per row, summaries intact', () => {
    const rs = [...sessionRecords(), ...sampleRecords()];
    const rows = parseCsv(exportText(rs).text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(rs.length + 1);
    rs.forEach((r, i) => {
      const row = rows[i + 1]!;
      expect(row).toHaveLength(CSV_COLUMNS.length);
      expect(row[0]).toBe(String(r.seq));
      expect(row[2]).toBe(r.monoNs.toString());
      expect(row[CSV_COLUMNS.indexOf('summary')]).toBe(describeRecord(r).summary);
    });
  });

  it('formats wall clock as ISO-8601 UTC with nanoseconds', () => {
    expect(isoNs(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(isoNs(1_767_225_600_000_000_001n)).toBe('2026-01-01T00:00:00.000000001Z');
    expect(isoNs(1_767_225_599_999_999_999n)).toBe('2025-12-31T23:59:59.999999999Z');
    expect(isoNs(0xffff_ffff_ffff_ffffn)).toBe('2554-07-21T23:34:33.709551615Z');
  });

  it('streams in chunks that concatenate to the same text', () => {
    const rs = sessionRecords();
    const small = exportText(rs, 200);
    expect(small.chunks).toBeGreaterThan(10);
    expect(small.text).toBe(exportText(rs).text);
  });
});
