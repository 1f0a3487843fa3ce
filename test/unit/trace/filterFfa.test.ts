/** The filter language's FF-A fields (area, result) on the imported Linux FF-A bring-up. */
import { describe, expect, it } from 'vitest';

import { forEachRecord, fromRecords, indexedBlock, indexRecords, toRecords } from '../../../src/trace/block';
import { describeRecord } from '../../../src/trace/describe';
import { compileFilter } from '../../../src/trace/filter';
import { importMeta, planImport, recordImport } from '../../../src/trace/import/logImport';
import { SAMPLES } from './import/samples';

function records() {
  const lines = SAMPLES.linux.text.split('\n');
  const p = planImport(lines, { format: 'linux' });
  if (!p.ok) throw new Error(p.error);
  const chunks: Uint8Array[] = [];
  recordImport(p.value, lines, importMeta(p.value, 'l.log', 'test', 10n ** 18n), { writeChunk: (c) => chunks.push(c.slice()) });
  return chunks.flatMap((c) => toRecords([indexedBlock(indexRecords(c))]));
}

function matching(text: string): string[] {
  const f = compileFilter(text, { startMonoNs: 0n });
  if (!f.ok) throw new Error(f.error);
  const out: string[] = [];
  forEachRecord(fromRecords(records()), (v) => {
    if (f.value.test(v)) out.push(describeRecord(v).summary);
  });
  return out;
}

describe('FF-A filter fields', () => {
  it('area matches the FF-A messages about an area, and no other message', () => {
    expect(matching('area == 1')).toEqual([
      'AREA_SHARE area_id=1 mem_handle=0x8877665544332211 tag=0x0 count=1024',
      'AREA_SHARE area_id=1 result=0',
      'AREA_UNSHARE area_id=1',
      'AREA_UNSHARE area_id=1 result=2(busy)',
    ]);
    expect(matching('area == 2')).toEqual([]);
  });

  it('result: bare means a failed or busy answer; compared, the result word', () => {
    expect(matching('result')).toEqual(['AREA_UNSHARE area_id=1 result=2(busy)']);
    expect(matching('result == 0')).toEqual(['AREA_SHARE area_id=1 result=0']);
    expect(matching('msg == BUS_VERSION && !result')).toHaveLength(2);
  });
});
