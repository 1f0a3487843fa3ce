/**
 * The real tshark (Debian package) on our pcapng: it reads the files without a single warning,
 * and with the generated dissector it decodes every record of every revision into the same
 * names, summaries, field values and problems as our own codec (src/protocol) and describeRecord.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { installDissector } from '../../main/host/trace/wireshark';
import { decode, lookupMessage, MESSAGES, REVISIONS, type FieldValue } from '../../src/protocol/index';
import { fromRecords } from '../../src/trace/block';
import { findingOf } from '../../src/trace/conformance';
import { describeRecord } from '../../src/trace/describe';
import { generateDissector, payloadFieldFilter } from '../../src/trace/dissector';
import { exportRecords } from '../../src/trace/exportWriter';
import type { CaptureMeta } from '../../src/trace/meta';
import { PcapngWriter, type PcapngWriterOptions } from '../../src/trace/pcapng';
import { BUFFER_BYTES_MAX, encodeBuffer, problemCodes, RECORD_FLAGS, REVISION_CODES, type TraceRecord } from '../../src/trace/record';
import { toHex } from '../../src/util/hex';
import { SampleBuilder, sampleMeta, sampleRecords } from '../unit/trace/sample';
import { HAVE_CAPINFOS, HAVE_TSHARK, runTool, toolDir } from './wiresharkTools';

function writePcapng(path: string, meta: CaptureMeta, records: TraceRecord[], opts: PcapngWriterOptions = {}): void {
  const chunks: Uint8Array[] = [];
  exportRecords(new PcapngWriter((c) => chunks.push(c), opts), meta, fromRecords(records));
  writeFileSync(path, Buffer.concat(chunks));
}

const records = sampleRecords();
const meta = sampleMeta();

describe.skipIf(!HAVE_TSHARK)('tshark reads our pcapng (skipped when tshark is not installed: apt-get install tshark)', () => {
  let ws: ReturnType<typeof toolDir>;
  let file: string;
  let lua: string;

  beforeAll(() => {
    ws = toolDir();
    file = join(ws.dir, 'sample.pcapng');
    lua = join(ws.dir, 'virtio_msg.lua');
    writePcapng(file, meta, records, { os: 'Linux', infoText: true });
    writeFileSync(lua, generateDissector());
  });
  afterAll(() => ws.dispose());

  /** tshark -T fields, one row per packet, tab-separated, repeated values joined with '|'. */
  function fields(names: string[], extra: string[] = [], path = file): string[][] {
    const r = runTool('tshark', ['-r', path, '-X', `lua_script:${lua}`, ...extra, '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=|', '-E', 'occurrence=a', ...names.flatMap((n) => ['-e', n])], ws.home);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
  }

  /** Name, summary, Info and Protocol columns against describeRecord; returns the revision codes seen. */
  function checkSummaries(path: string, recs: TraceRecord[]): Set<string> {
    const rows = fields(['virtio_msg.record.seq', 'virtio_msg.record.rev', 'virtio_msg.name', 'virtio_msg.summary', '_ws.col.Info', '_ws.col.Protocol'], [], path);
    expect(rows).toEqual(
      recs.map((r) => {
        const d = describeRecord(r);
        return [String(r.seq), String(REVISION_CODES.indexOf(r.rev)), d.name, d.summary, d.summary, 'virtio-msg'];
      }),
    );
    return new Set(rows.map((r) => r[1]!));
  }

  it('decodes buffer records: length, head and the bytes kept, with the summary describeRecord gives', () => {
    const b = new SampleBuilder();
    const base = b.vqIndex(2, 1, 1, 0);
    const published = { ...base, seq: 1, kind: 'buffer' as const, dir: 'driver-to-device' as const, data: encodeBuffer({ length: 4, head: 3, bytes: Uint8Array.of(0x41, 0x42, 0x43, 0x44) }) };
    const big = Uint8Array.from({ length: BUFFER_BYTES_MAX }, (_, i) => i & 0xff);
    const used = { ...base, seq: 2, kind: 'buffer' as const, dir: 'device-to-driver' as const, data: encodeBuffer({ length: 1000, head: 3, bytes: big }) };
    const path = join(ws.dir, 'buffers.pcapng');
    writePcapng(path, meta, [published, used]);
    checkSummaries(path, [published, used]);
    expect(fields(['virtio_msg.buffer.length', 'virtio_msg.buffer.head', 'virtio_msg.buffer.bytes'], [], path)).toEqual([
      ['4', '3', '41424344'],
      ['1000', '3', toHex(big, '')],
    ]);
  });

  /** Header and payload fields against the codec's decode; returns how many values were compared. */
  function checkFields(path: string, recs: TraceRecord[]): number {
    const decoded = recs.map((r) => (r.kind === 'message' && r.rev ? decode(r.data, r.rev, r.dir ? { direction: r.dir } : {}).msg : null));
    const payload = new Set<string>();
    for (const m of decoded) {
      if (m) for (const f of lookupMessage(m.revision, m.bus, m.msgId).layouts[m.kind]!.fields) payload.add(payloadFieldFilter(f));
    }
    const names = [...payload].sort();
    const header = ['virtio_msg.msg_id', 'virtio_msg.dev_num', 'virtio_msg.token', 'virtio_msg.msg_size', 'virtio_msg.kind'];
    const rows = fields([...header, ...names], [], path);
    let checked = 0;
    decoded.forEach((m, i) => {
      const row = rows[i]!;
      if (!m) {
        expect(row.every((v) => v === '')).toBe(true);
        return;
      }
      const token = m.revision === 'r3' || m.revision === 'r4' ? BigInt(m.token) : null;
      expect([BigInt(row[0]!), BigInt(row[1]!), row[2] === '' ? null : BigInt(row[2]!), BigInt(row[3]!), row[4]]).toEqual([BigInt(m.msgId), BigInt(m.devNum), token, BigInt(m.msgSize), m.kind]);
      const expected = new Map<string, FieldValue>();
      for (const f of lookupMessage(m.revision, m.bus, m.msgId).layouts[m.kind]!.fields) {
        const v = m.fields[f.name];
        if (v !== undefined) expected.set(payloadFieldFilter(f), v);
      }
      names.forEach((name, j) => {
        const got = row[header.length + j]!;
        const want = expected.get(name);
        const what = `${m.revision} ${m.name} ${m.kind} ${name}`;
        if (want === undefined || (want instanceof Uint8Array && want.length === 0)) expect(got, what).toBe('');
        else if (want instanceof Uint8Array) expect(got, what).toBe(toHex(want, ''));
        else if (Array.isArray(want)) expect(got === '' ? [] : got.split('|').map(BigInt), what).toEqual(want.map(BigInt));
        else expect(BigInt(got), what).toBe(BigInt(want));
        checked++;
      });
    });
    return checked;
  }

  /** The dissector's expert infos per packet are exactly the record's problem codes (a finding's: finding-<severity>); returns those codes. */
  function checkExperts(path: string, recs: TraceRecord[]): string[][] {
    const r = runTool('tshark', ['-r', path, '-X', `lua_script:${lua}`, '-T', 'pdml'], ws.home);
    expect(r.stderr).toBe('');
    const packets = r.stdout.split('<packet>').slice(1);
    expect(packets).toHaveLength(recs.length);
    const seen = packets.map((p) => [...new Set([...p.matchAll(/name="virtio_msg\.expert\.([a-z_]+)"/g)].map((x) => x[1]!.replaceAll('_', '-')))].sort());
    const want = recs.map((rec) => (rec.kind === 'finding' ? [`finding-${findingOf(rec)!.severity}`] : problemCodes(rec.problems).sort()));
    expect(seen).toEqual(want);
    return want;
  }

  it('tshark -r: exit 0, nothing on stderr, one packet per record (no plugin installed)', () => {
    const r = runTool('tshark', ['-r', file], ws.home);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(records.length);
    const v = runTool('tshark', ['-r', file, '-V'], ws.home);
    expect(v.stderr).toBe('');
    expect(v.stdout).toContain('Protocol Name: virtio_msg');
    expect(v.stdout).toContain('Interface name: vmsg-sim-qemu-amp-pci-to-device');
  });

  it.skipIf(!HAVE_CAPINFOS)('capinfos: exported-PDU encapsulation, ns precision, board, app and metadata comment', () => {
    const r = runTool('capinfos', [file], ws.home);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/File type:\s+Wireshark\/\.\.\. - pcapng/);
    expect(r.stdout).toMatch(/File encapsulation:\s+Wireshark Upper PDU export/);
    expect(r.stdout).toMatch(/File timestamp precision:\s+nanoseconds \(9\)/);
    expect(r.stdout).toMatch(new RegExp(`Number of packets:\\s+${records.length}\\b`));
    expect(r.stdout).toMatch(/Capture hardware:\s+sim-qemu-amp-pci/);
    expect(r.stdout).toMatch(/Capture oper-sys:\s+Linux/);
    expect(r.stdout).toMatch(/Capture application:\s+amp-workbench 0\.1\.0/);
    expect(r.stdout).toContain('Capture comment:     amp-trace-meta={"format":"amp-trace/1"');
    expect(r.stdout).toMatch(/Number of interfaces in file: 3/);
  });

  it('with the dissector every record has the name and summary describeRecord gives (all kinds, r0/r2/r3/r4, malformed)', () => {
    const revs = checkSummaries(file, records);
    expect(revs).toEqual(new Set(['0', '1', '2', '3', '4']));
  });

  it("decodes the header and every payload field of every revision to the codec's values", () => {
    expect(checkFields(file, records)).toBeGreaterThan(100);
  });

  it('decodes every message of every revision in the table (requests, responses, events) like the codec', () => {
    const sweep = tableSweep();
    const path = join(ws.dir, 'sweep.pcapng');
    writePcapng(path, meta, sweep);
    expect(sweep.length).toBeGreaterThan(150);
    checkSummaries(path, sweep);
    expect(checkFields(path, sweep)).toBeGreaterThan(500);
    checkExperts(path, sweep);
  });

  it('shows bit ranges and named values (R4 SET_VQUEUE flags, EVENT_AVAIL next_offset)', () => {
    const rows = fields(['virtio_msg.name', 'virtio_msg.field.flags.state_op', 'virtio_msg.field.next_offset.next_off', 'virtio_msg.field.next_offset.next_wrap'], ['-Y', 'virtio_msg.field.flags.state_op || virtio_msg.field.next_offset.next_wrap']);
    expect(rows).toEqual([
      ['SET_VQUEUE', '1', '', ''],
      ['EVENT_AVAIL', '', '5', '1'],
    ]);
  });

  it("marks every problem with expert info: the codec's own findings and those the endpoint flagged", () => {
    const want = checkExperts(file, records);
    expect(want.filter((codes) => codes.length > 0).length).toBeGreaterThanOrEqual(5);
    expect(new Set(want.flat())).toEqual(new Set(['size-mismatch', 'unknown-id', 'truncated', 'event-response', 'no-response', 'finding-error', 'finding-info']));
  });

  it('carries direction, packet id, markers and problems as packet comments, doorbells and vq indexes', () => {
    const rows = fields(['frame.packet_flags_direction', 'frame.p2p_dir', 'frame.comment', 'virtio_msg.text', 'virtio_msg.vq.in_flight']);
    records.forEach((rec, i) => {
      const row = rows[i]!;
      const dir = rec.dir === 'driver-to-device' ? 2 : rec.dir === 'device-to-driver' ? 1 : null;
      expect(row[0] === '' ? null : Number(row[0])).toBe(dir);
      expect(row[1] === '' ? null : Number(row[1])).toBe(dir === null ? null : dir === 2 ? 0 : 1);
      const d = describeRecord(rec);
      const comments = [...(rec.kind === 'marker' || rec.kind === 'finding' ? [d.summary] : []), ...d.problems.map((p) => `${p.code}: ${p.reason}`)];
      expect(row[2]).toBe(comments.join('|'));
      if (rec.kind === 'marker' || rec.kind === 'queue-state' || rec.kind === 'finding') expect(row[3]).toBe(new TextDecoder().decode(rec.data));
      if (rec.kind === 'vq-index') expect(row[4]).toBe('2');
    });
    const packetIds = runTool('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.packet_id'], ws.home);
    expect(packetIds.stdout.trim().split('\n')).toEqual(records.map((r) => String(r.seq)));
  });

  it('links responses to their requests (and, two-pass, requests to their responses)', () => {
    const rows = fields(['virtio_msg.request_in', 'virtio_msg.response_in'], ['-2']);
    const frame = (seq: number): string => String(seq + 1);
    records.forEach((rec, i) => {
      const answeredBy = records.find((r) => r.pairSeq === rec.seq && (r.flags & RECORD_FLAGS.response) !== 0);
      const requestIn = rec.pairSeq === null || rec.kind === 'finding' ? '' : frame(rec.pairSeq);
      expect(rows[i], `seq ${rec.seq}`).toEqual([requestIn, answeredBy && rec.flags & RECORD_FLAGS.request ? frame(answeredBy.seq) : '']);
    });
    expect(rows.filter((r) => r[0] !== '').length).toBeGreaterThanOrEqual(7);
  });

  it('shows a conformance finding: rule, severity, reference section and the frame of the offending record', () => {
    const rows = fields(['virtio_msg.finding.rule', 'virtio_msg.finding.severity', 'virtio_msg.finding.section', 'virtio_msg.finding.record'], ['-2']);
    const found = records.flatMap((rec, i) => {
      const f = findingOf(rec);
      return f ? [[i, [f.rule, f.severity, f.section, String(f.seq + 1)]] as const] : [];
    });
    expect(found.length).toBe(2);
    for (const [i, want] of found) expect(rows[i]).toEqual(want);
    records.forEach((rec, i) => {
      if (rec.kind !== 'finding') expect(rows[i]).toEqual(['', '', '', '']);
    });
    // The display filter language sees them too.
    const errors = runTool('tshark', ['-r', file, '-X', `lua_script:${lua}`, '-Y', 'virtio_msg.finding.severity == "error"', '-T', 'fields', '-e', 'frame.packet_id'], ws.home);
    expect(errors.stdout.trim().split('\n')).toEqual(records.filter((r) => findingOf(r)?.severity === 'error').map((r) => String(r.seq)));
  });

  it('installDissector puts the plugin where tshark loads it with no options', () => {
    const user = toolDir(); // its own HOME: the other tests load the script with -X
    try {
      const plugins = join(user.home, '.local', 'lib', 'wireshark', 'plugins');
      const res = installDissector({ dir: plugins });
      expect(res).toMatchObject({ printed: false, path: join(plugins, 'virtio_msg.lua') });
      const folders = runTool('tshark', ['-G', 'folders'], user.home);
      expect(folders.stdout).toMatch(new RegExp(`Personal Lua Plugins:\\s+${plugins.replaceAll('.', '\\.')}`));
      const r = runTool('tshark', ['-r', file, '-T', 'fields', '-e', 'virtio_msg.name'], user.home);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim().split('\n')).toEqual(records.map((x) => describeRecord(x).name));
    } finally {
      user.dispose();
    }
  });

  it('decodes bare records on DLT_USER0 when the preference is on', () => {
    const raw = join(ws.dir, 'user0.pcapng');
    writePcapng(raw, meta, records, { encapsulation: 'user0' });
    const plain = runTool('tshark', ['-r', raw], ws.home);
    expect([plain.code, plain.stderr]).toEqual([0, '']);
    const rows = fields(['virtio_msg.summary'], ['-o', 'virtio_msg.user0:TRUE'], raw);
    expect(rows.map((r) => r[0])).toEqual(records.map((x) => describeRecord(x).summary));
  });
});

describe('generated dissector agrees with the table', () => {
  it('is written into a fresh folder by installDissector and printed with print: true', () => {
    const ws = toolDir();
    try {
      const dir = join(ws.dir, 'new', 'plugins');
      mkdirSync(join(ws.dir, 'new'));
      const res = installDissector({ dir });
      expect(res.printed).toBe(false);
      if (!res.printed) expect(res.message).toMatch(/Reload Lua Plugins/);
      expect(installDissector({ print: true })).toEqual({ printed: true, lua: generateDissector() });
    } finally {
      ws.dispose();
    }
  });
});

/**
 * One record per (revision, message, kind) in the table, every field filled with a distinct
 * value (counts derived from their arrays), both directions for R0 responses.
 */
function tableSweep(): TraceRecord[] {
  const b = new SampleBuilder();
  let salt = 1;
  for (const rev of REVISIONS) {
    for (const def of MESSAGES[rev]) {
      for (const kind of def.kinds) {
        const layout = def.layouts[kind]!;
        const counts = new Set(layout.fields.flatMap((f) => (f.count ? [f.count] : [])));
        const fields: Record<string, FieldValue> = {};
        for (const f of layout.fields) {
          if (counts.has(f.name) || f.mbz) continue;
          salt++;
          if (f.type === 'u64') fields[f.name] = BigInt(salt) * 0x1_0001_0001n;
          else if (f.type === 'uuid') fields[f.name] = Uint8Array.from({ length: 16 }, (_, i) => i + salt);
          else if (f.type === 'u32[]') fields[f.name] = f.count ? [salt, 0x8000_0000 + salt] : Array.from({ length: f.size / 4 }, (_, i) => salt + i);
          else if (f.type === 'bitmap') fields[f.name] = Uint8Array.of(salt & 0xff, 0x80);
          else if (f.type === 'bytes') fields[f.name] = Uint8Array.from({ length: 3 }, (_, i) => salt + i);
          else fields[f.name] = f.values ? Number(Object.keys(f.values)[0]) : (salt * 0x0101_0101) % 2 ** (8 * f.size);
        }
        const init = { name: def.name, bus: def.bus, kind, devNum: def.bus ? 0 : salt % 7, token: rev === 'r3' || rev === 'r4' ? salt : 0, fields };
        const dir = kind === 'response' || kind === 'event' ? 'device-to-driver' : 'driver-to-device';
        b.message({ rev, dir, init });
        if (rev === 'r0' && kind === 'response') b.message({ rev, dir, init: { ...init, type: 0 } });
      }
    }
  }
  return b.records;
}
