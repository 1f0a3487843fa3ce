/**
 * The generated Wireshark dissector on FF-A bus messages of an R2 bus (the imported Linux FF-A
 * bring-up): payload fields by the RFC's names, feature and result bits as their own filter
 * fields, and the summary describeRecord gives (flag names included).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { indexedBlock, indexRecords, toRecords } from '../../src/trace/block';
import { describeRecord } from '../../src/trace/describe';
import { generateDissector } from '../../src/trace/dissector';
import { exportRecords } from '../../src/trace/exportWriter';
import { importMeta, planImport, recordImport } from '../../src/trace/import/logImport';
import { PcapngWriter } from '../../src/trace/pcapng';
import { fromRecords } from '../../src/trace/block';
import { SAMPLES } from '../unit/trace/import/samples';
import { HAVE_TSHARK, runTool, toolDir } from './wiresharkTools';

describe.skipIf(!HAVE_TSHARK)('tshark on FF-A bus messages (skipped when tshark is not installed)', () => {
  let ws: ReturnType<typeof toolDir>;
  let file: string;
  let lua: string;
  const lines = SAMPLES.linux.text.split('\n');
  const p = planImport(lines, { format: 'linux' });
  if (!p.ok) throw new Error(p.error);
  const meta = importMeta(p.value, 'linux.log', 'test', 10n ** 18n);
  const chunks: Uint8Array[] = [];
  recordImport(p.value, lines, meta, { writeChunk: (c) => chunks.push(c.slice()) });
  const records = chunks.flatMap((c) => toRecords([indexedBlock(indexRecords(c))]));

  beforeAll(() => {
    ws = toolDir();
    file = join(ws.dir, 'ffa.pcapng');
    lua = join(ws.dir, 'virtio_msg.lua');
    const out: Uint8Array[] = [];
    exportRecords(new PcapngWriter((c) => out.push(c)), meta, fromRecords(records));
    writeFileSync(file, Buffer.concat(out));
    writeFileSync(lua, generateDissector());
  });
  afterAll(() => ws.dispose());

  function fields(names: string[], filter?: string): string[][] {
    const r = runTool('tshark', ['-r', file, '-X', `lua_script:${lua}`, ...(filter ? ['-Y', filter] : []), '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=|', ...names.flatMap((n) => ['-e', n])], ws.home);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  }

  it('gives every record the summary describeRecord gives, flag names included', () => {
    expect(fields(['virtio_msg.summary']).map((r) => r[0])).toEqual(records.map((r) => describeRecord(r).summary));
  });

  it('decodes BUS_VERSION and AREA_SHARE field by field', () => {
    expect(fields(['virtio_msg.field.driver_version', 'virtio_msg.field.device_version', 'virtio_msg.field.features', 'virtio_msg.field.area_num'], 'virtio_msg.name == "BUS_VERSION"')).toEqual([
      ['1', '', '15', '255'],
      ['', '1', '5', '16'],
    ]);
    expect(fields(['virtio_msg.field.area_id', 'virtio_msg.field.mem_handle', 'virtio_msg.field.count', 'virtio_msg.field.result'], 'virtio_msg.name == "AREA_SHARE"')).toEqual([
      ['1', '0x8877665544332211', '1024', ''],
      ['1', '', '', '0'],
    ]);
  });

  it('filters on feature and result bits', () => {
    expect(fields(['virtio_msg.name'], 'virtio_msg.field.features.indirect_msg_tx == 1')).toEqual([['BUS_VERSION']]);
    expect(fields(['virtio_msg.name', 'virtio_msg.field.area_id'], 'virtio_msg.field.result.busy == 1')).toEqual([['AREA_UNSHARE', '1']]);
    expect(fields(['virtio_msg.name'], 'virtio_msg.field.result.error == 1')).toEqual([]);
  });
});
