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
import { parseHex } from '../../src/util/hex';
import type { TraceRecord } from '../../src/trace/record';
import { SAMPLES } from '../unit/trace/import/samples';
import { SampleBuilder } from '../unit/trace/sample';
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

  it("decodes OP-TEE 2025's 26-byte BUS_VERSION request in its own layout, as the codec does (MessageDef.seen)", () => {
    // 8-byte R4 header + struct msg_version_req {proto_vers, vmsg_rev, vmsg_features, features, area_num}.
    const bytes = parseHex('02 80 00 00 05 00 1A 00  00 00 01 00  01 00 00 00  00 00 00 00  05 00 00 00  FF 00')!;
    const rec: TraceRecord = {
      kind: 'message', dir: 'driver-to-device', rev: 'r4', seq: 0, monoNs: meta.startMonoNs, wallNs: meta.startWallNs, channel: 0,
      devNum: 0, msgType: 2, msgId: 0x80, token: 5, problems: 0, flags: 0, pairSeq: null, latencyNs: 0n, data: bytes,
    };
    const out: Uint8Array[] = [];
    exportRecords(new PcapngWriter((c) => out.push(c)), meta, fromRecords([rec]));
    const seenFile = join(ws.dir, 'optee-version.pcapng');
    writeFileSync(seenFile, Buffer.concat(out));
    const d = describeRecord(rec);
    const r = runTool('tshark', ['-r', seenFile, '-X', `lua_script:${lua}`, '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=|',
      ...['virtio_msg.summary', 'virtio_msg.field.driver_version', 'virtio_msg.field.area_num', 'virtio_msg.field.bus_version', '_ws.expert.message'].flatMap((n) => ['-e', n])], ws.home);
    expect(r.stderr).toBe('');
    const [summary, driverVersion, areaNum, busVersion, experts] = r.stdout.replace(/\n$/, '').split('\t');
    expect([summary, driverVersion, areaNum, busVersion]).toEqual([d.summary, '65536', '255', '']);
    // The codec's reasons, each as far as Wireshark keeps an expert's text (240 bytes).
    const got = experts!.split('|');
    expect(got).toHaveLength(d.problems.length);
    got.forEach((text, i) => expect(d.problems[i]!.reason.startsWith(text) && text.length >= Math.min(150, d.problems[i]!.reason.length)).toBe(true));
    expect(d.summary).toBe('BUS_VERSION token 0x0005 driver_version=0x10000 vmsg_revision=1 vmsg_features=0 features=5(direct_msg_rx|indirect_msg_rx)');
    expect(d.problems.map((p) => p.code)).toEqual(['size-mismatch', 'bad-field']);
  });

  it('writes device status and feature words as describeRecord does: hex with bit names, words zero-padded, more than four elided', () => {
    const b = new SampleBuilder();
    const recs = [
      b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'SET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 1, fields: { status: 0x8b } } }),
      b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 2, fields: { status: 0 } } }),
      b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'SET_DRIVER_FEATURES', kind: 'request', devNum: 1, token: 3, fields: { block_index: 0, num_blocks: 5, features: [1, 2, 0x30, 4, 5] } } }),
      b.message({ rev: 'r0', dir: 'device-to-driver', init: { name: 'GET_FEATURES', kind: 'response', type: 0, devNum: 0, fields: { index: 0, features: [0x31, 1, 0, 0, 0, 0, 0, 0] } } }),
    ];
    const out: Uint8Array[] = [];
    exportRecords(new PcapngWriter((c) => out.push(c)), meta, fromRecords(recs));
    const path = join(ws.dir, 'status-features.pcapng');
    writeFileSync(path, Buffer.concat(out));
    const r = runTool('tshark', ['-r', path, '-X', `lua_script:${lua}`, '-T', 'fields', '-e', 'virtio_msg.summary'], ws.home);
    expect(r.stderr).toBe('');
    const want = recs.map((x) => describeRecord(x).summary);
    expect(want[0]).toBe('SET_DEVICE_STATUS dev 1 token 0x0001 status=0x8b(ACKNOWLEDGE|DRIVER|FEATURES_OK|FAILED)');
    expect(want[2]).toBe('SET_DRIVER_FEATURES dev 1 token 0x0003 block_index=0 num_blocks=5 features=[0x00000001,0x00000002,0x00000030,0x00000004,…]');
    expect(r.stdout.trimEnd().split('\n')).toEqual(want);
  });
});
