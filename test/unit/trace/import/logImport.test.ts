/**
 * Log import (src/trace/import): each preset reads its sample log back into exactly the messages
 * written into it, with the log's times and directions; the format and revision are told from the
 * lines when not given; the records are those the live Recorder makes of the same traffic.
 */
import { describe, expect, it } from 'vitest';

import { decode } from '../../../../src/protocol/index';
import { fromRecords, toRecords } from '../../../../src/trace/block';
import { checkRecords } from '../../../../src/trace/conformance';
import { describeRecord } from '../../../../src/trace/describe';
import { metaFromJson, metaToJson } from '../../../../src/trace/meta';
import { importedMessages, importMeta, planImport, recordImport, type ImportOptions } from '../../../../src/trace/import/logImport';
import { LOG_FORMATS, PRESETS } from '../../../../src/trace/import/presets';
import { indexedBlock, indexRecords } from '../../../../src/trace/block';
import type { TraceRecord } from '../../../../src/trace/record';
import { parseHex, toHex } from '../../../../src/util/hex';
import { SAMPLES } from './samples';

/** Both passes over a log given as text: the plan, its lines, and the messages the second pass reads. */
function prepareImport(text: string, opts: ImportOptions = {}) {
  const lines = text.split(/\r?\n/);
  const p = planImport(lines, opts);
  return p.ok ? { ok: true as const, value: { ...p.value, lines, messages: [...importedMessages(p.value, lines)] } } : p;
}

function imported(format: (typeof LOG_FORMATS)[number], text = SAMPLES[format].text) {
  const p = prepareImport(text, { format });
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

function records(format: (typeof LOG_FORMATS)[number]): TraceRecord[] {
  const p = imported(format);
  const meta = importMeta(p, `${format}.log`, 'test', 1_000_000_000_000n);
  const chunks: Uint8Array[] = [];
  recordImport(p, p.lines, meta, { writeChunk: (payload) => chunks.push(payload.slice()) });
  return chunks.flatMap((c) => toRecords([indexedBlock(indexRecords(c))]));
}

function recorded(p: ReturnType<typeof imported>, meta: ReturnType<typeof importMeta>) {
  const chunks: Uint8Array[] = [];
  recordImport(p, p.lines, meta, { writeChunk: (c) => chunks.push(c.slice()) });
  return chunks.map((c) => indexedBlock(indexRecords(c)));
}

describe.each(LOG_FORMATS)('%s preset', (format) => {
  const sample = SAMPLES[format];

  it('gives back every message of its sample log, byte for byte, with time and direction', () => {
    const p = imported(format);
    expect(p.messages.map((m) => ({ hex: toHex(m.bytes), dir: m.dir }))).toEqual(sample.messages.map((m) => ({ hex: toHex(parseHex(m.hex)!), dir: m.dir })));
    const timed = sample.messages.map((m) => m.timeNs);
    if (timed.every((t) => t !== null)) expect(p.messages.map((m) => m.timeNs)).toEqual(timed);
    else expect(p.messages.map((m) => m.timeNs)).toEqual(sample.messages.map((_, i) => BigInt(i) * 1000n));
  });

  it('is recognised without --format, and gives the revision the peer speaks', () => {
    const p = prepareImport(sample.text);
    if (!p.ok) throw new Error(p.error);
    expect(p.value.format).toBe(format);
    expect(p.value.revision).toBe(sample.revision);
  });

  it('records every message as a live capture would: decoded, paired, with the capture meta saying where it came from', () => {
    const recs = records(format);
    const msgs = recs.filter((r) => r.kind === 'message');
    expect(msgs.map((r) => toHex(r.data))).toEqual(sample.messages.map((m) => toHex(parseHex(m.hex)!)));
    expect(new Set(msgs.map((r) => r.rev))).toEqual(new Set([sample.revision]));
    // Every response answers the request before it.
    for (const r of msgs.filter((x) => describeRecord(x).msg?.kind === 'response')) {
      expect(r.pairSeq, describeRecord(r).summary).not.toBeNull();
      expect(recs[r.pairSeq!]!.msgId).toBe(r.msgId);
    }
    const meta = importMeta(imported(format), `${format}.log`, 'test', 0n + 10n ** 18n);
    expect(meta).toMatchObject({ board: `import-${format}`, revision: sample.revision, link: `imported from ${format}.log` });
    expect(meta.notes[0]).toBe(`imported from ${format}.log (${format} format), ${sample.messages.length} messages`);
    if (PRESETS[format].peer) expect(meta.peer).toBe(PRESETS[format].peer);
  });
});

describe('log import details', () => {
  it('the Linux FF-A bring-up decodes field by field, with flag names in the summaries', () => {
    const msgs = records('linux').filter((r) => r.kind === 'message');
    expect(msgs.map((r) => describeRecord(r).summary)).toEqual([
      'BUS_VERSION driver_version=1 vmsg_revision=1 vmsg_features=0 features=15(direct_msg_rx|direct_msg_tx|indirect_msg_rx|indirect_msg_tx)',
      'BUS_VERSION device_version=1 vmsg_revision=1 vmsg_features=0 features=5(direct_msg_rx|indirect_msg_rx)',
      'GET_DEVICES offset=0 count=255',
      'GET_DEVICES offset=0 count=16 next_offset=0 bitmap=0200',
      'AREA_SHARE area_id=1 mem_handle=0x8877665544332211 tag=0x0 count=1024',
      'AREA_SHARE area_id=1 result=0',
      'GET_DEVICE_INFO dev 1',
      'GET_DEVICE_INFO dev 1 device_id=4 vendor_id=0x554d4551 num_feature_bits=64 config_size=0',
      'AREA_UNSHARE area_id=1',
      'AREA_UNSHARE area_id=1 result=2(busy)',
    ]);
    expect(msgs.every((r) => r.problems === 0)).toBe(true);
  });

  it('OP-TEE header-only messages are the 8-byte header, their payload absent', () => {
    const p = imported('optee');
    expect(p.messages.every((m) => m.headerOnly)).toBe(true);
    expect(decode(p.messages[0]!.bytes, 'r3').msg).toMatchObject({ name: 'BUS_VERSION', msgSize: 0x1a, bus: true });
  });

  it('a field the log does not print is judged by no rule: no token or payload findings or problems, one note saying what was not checked', () => {
    const tokenRules = 'R4-token-echo, R3-token-echo, request-token-nonzero, event-token-zero';
    const cases = [
      { format: 'qemu', absent: ['token'], note: `the qemu log holds no token (recorded as 0): not checked: ${tokenRules}` },
      { format: 'optee', absent: ['token', 'payload'], note: 'the optee log holds no token (recorded as 0) and no payload bytes (records hold the header alone): not checked: msg-size-exact, reserved-zero, field-value, R4-token-echo' },
    ] as const;
    for (const c of cases) {
      const p = imported(c.format);
      const meta = importMeta(p, `${c.format}.log`, 'test', 10n ** 18n);
      expect(meta.absent).toEqual(c.absent);
      expect(meta.notes.filter((n) => n.includes('not checked'))).toHaveLength(1);
      expect(meta.notes.find((n) => n.includes('not checked'))).toContain(c.note);
      const chunks = recorded(p, meta);
      const recs = chunks.flatMap((c) => toRecords([c]));
      // Requests with token 0 and 8-byte OP-TEE headers of 12- and 26-byte messages: nothing to say about either.
      expect(recs.filter((r) => r.kind === 'finding').map((r) => describeRecord(r).summary)).toEqual([]);
      expect(recs.filter((r) => r.kind === 'message').every((r) => r.problems === 0)).toBe(true);
      expect(checkRecords(chunks, { peer: meta.peer ?? null, absent: meta.absent! }).findings).toEqual([]);
    }
    // The same bytes from a log that holds every field are judged: the token 0 and OP-TEE's cut-short messages are wrong there.
    for (const format of ['qemu', 'optee'] as const) {
      const p = prepareImport(imported(format).messages.map((m) => `${m.dir === 'driver-to-device' ? '>' : '<'} ${toHex(m.bytes)}`).join('\n'), { format: 'hex', revision: 'r3' });
      if (!p.ok) throw new Error(p.error);
      expect(p.value.absent).toEqual([]);
      const chunks = recorded(p.value, importMeta(p.value, 'x.log', 'test', 10n ** 18n));
      const live = chunks.flatMap((c) => toRecords([c])).flatMap((r) => (r.kind === 'finding' ? [describeRecord(r).summary] : []));
      expect(live.join('\n')).toContain('request has token 0; R3/R4 requests carry a non-zero token');
      const rules = checkRecords(chunks).findings.map((f) => f.rule);
      expect(rules).toContain('request-token-nonzero');
      if (format === 'optee') expect(rules).toContain('msg-size-exact');
    }
  });

  it('capture metadata keeps the absent fields through JSON and refuses a field it does not know', () => {
    const meta = importMeta(imported('optee'), 'o.log', 'test', 10n ** 18n);
    expect(metaFromJson(JSON.parse(JSON.stringify(metaToJson(meta))))).toEqual({ ok: true, value: meta });
    expect(metaFromJson({ ...metaToJson(meta), absent: ['tokens'] })).toEqual({ ok: false, error: 'capture metadata field "absent": expected absent or a list of token, payload, saw ["tokens"]' });
  });

  it('Xen messages over 44 bytes are oversize; detection names the Xen variant of R2 shaped traffic', () => {
    const big = SAMPLES.xen.text + '(XEN) virtio-msg: id GET_CONFIG 0x5 type 0x1 dev_num 0x0 msg_size 0x30\n(XEN) Size overflow! 42 > 38\n' + '(XEN) 00 00 00 00 00 00 00 00 08 00 00 00 00 00 00 00 \n'.repeat(2) + '(XEN) 00 00 00 00 00 00 \n';
    const p = imported('xen', big);
    expect(p.maxMessageSize).toBe(44);
    expect(p.notes.join('\n')).toContain('"Size overflow!"');
    const last = p.messages.at(-1)!;
    expect(last.bytes.length).toBe(44);
    expect(decode(last.bytes, 'r2', { maxSize: 44 }).problems.map((x) => x.code)).toContain('oversize');
    const hexOnly = prepareImport(SAMPLES.xen.messages.map((m) => m.hex).join('\n'));
    if (!hexOnly.ok) throw new Error(hexOnly.error);
    expect(hexOnly.value).toMatchObject({ format: 'hex', revision: 'r2', maxMessageSize: 44, guess: { variant: 'xen' } });
  });

  it('detects from the first 4096 messages, but keeps Xen\'s 44-byte limit only if every message keeps to it', () => {
    const used = '00 42 01 00 0a 00 00 00 00 00\n'.repeat(4100);
    const small = prepareImport(used);
    if (!small.ok) throw new Error(small.error);
    expect(small.value).toMatchObject({ revision: 'r2', maxMessageSize: 44 });
    expect(small.value.notes).toContain("revision r2 detected from the bytes of the first 4096 messages with high confidence, fitting Xen's variant (at most 44 bytes)");
    const config = '01 05 01 00 2e 00 00 00 00 00 00 00 00 00 1c 00 00 00' + ' 00'.repeat(28);
    const big = prepareImport(used + config + '\n');
    if (!big.ok) throw new Error(big.error);
    expect(big.value).toMatchObject({ revision: 'r2', maxMessageSize: undefined, guess: { variant: null } });
    // A log whose format names its peer is not taken for Xen's.
    const linux = prepareImport('[    1.000000] virtio-msg: rx 00000000: 00 42 01 00 0a 00 00 00 00 00\n');
    if (!linux.ok) throw new Error(linux.error);
    expect(linux.value).toMatchObject({ format: 'linux', revision: 'r2', maxMessageSize: undefined, guess: { variant: null } });
  });

  it('a request left unanswered gets the no-response marker a live capture would give it, on the log clock', () => {
    const p = prepareImport('1.000000 > 00 02 01 00 06 00\n3.000000 > 00 07 01 00 06 00\n3.000100 < 01 07 01 00 0a 00 0f 00 00 00\n', { revision: 'r2' });
    if (!p.ok) throw new Error(p.error);
    const meta = importMeta(p.value, 'x.log', 'test', 10n ** 18n);
    const chunks: Uint8Array[] = [];
    recordImport(p.value, p.value.lines, meta, { writeChunk: (c) => chunks.push(c.slice()) });
    const recs = chunks.flatMap((c) => toRecords([indexedBlock(indexRecords(c))]));
    expect(recs.map((r) => describeRecord(r).name)).toEqual(['GET_DEVICE_INFO', 'NO_RESPONSE', 'FINDING', 'GET_DEVICE_STATUS', 'GET_DEVICE_STATUS']);
    expect(recs[1]!.monoNs).toBe(2_000_000_000n);
    expect(toRecords(fromRecords(recs))).toEqual(recs);
  });

  it('text that ends in hex-looking words is not a message (fewer bytes than any header)', () => {
    const p = prepareImport('we reached a dead end\n0.5 tx 00 02 01 00 06 00\nfee fi fo\n', { format: 'hex' });
    if (!p.ok) throw new Error(p.error);
    expect(p.value.messages.map((m) => toHex(m.bytes))).toEqual(['00 02 01 00 06 00']);
  });

  it('says what it expected when the log holds no message, or bytes of no revision', () => {
    expect(prepareImport('hello\nworld\n')).toEqual({ ok: false, error: 'no virtio-msg message found in 3 lines; expected one of the formats hex, linux, qemu, xen, optee (amp-workbench import --help shows each)' });
    expect(prepareImport('hello\n', { format: 'qemu' })).toEqual({ ok: false, error: `no message in the qemu format found in 2 lines; expected lines like "${PRESETS.qemu.example}"` });
    const r = prepareImport('ff ff ff ff ff ff\n');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^cannot tell the revision of the 1 messages \(.*\); give --rev r0\|r2\|r3\|r4$/);
  });
});
