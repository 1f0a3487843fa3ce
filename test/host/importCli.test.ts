/**
 * amp-workbench import as a user runs it: a sample log of every preset becomes a capture folder
 * that check and export read, whose exports (JSONL, pcapng) read back as the same records, and
 * that the UI's capture.open shows like any other capture (docs/formats.md §5).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { WorkbenchService } from '../../main/host/service/workbench';
import { exportCapture } from '../../main/host/trace/export';
import { toRecords } from '../../src/trace/block';
import { describeRecord } from '../../src/trace/describe';
import { LOG_FORMATS } from '../../src/trace/import/presets';
import { toHex, parseHex } from '../../src/util/hex';
import { SAMPLES } from '../unit/trace/import/samples';
import { openCapture, runCli } from './cliRun';


let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amp-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(LOG_FORMATS)('import of a %s log', (format) => {
  const sample = SAMPLES[format];
  let cap = '';

  beforeAll(() => {
    const log = join(dir, `${format}.log`);
    writeFileSync(log, sample.text);
    cap = join(dir, `cap-${format}`);
    // Without --format: the format is told from the lines.
    const r = runCli(['import', log, '--out', cap, '--json']);
    if (r.code !== 0) throw new Error(r.stderr);
    expect(JSON.parse(r.stdout)).toMatchObject({ format, revision: sample.revision, messages: sample.messages.length });
  }, 60_000);

  it('is a capture whose messages are the log\'s, and check reads it', () => {
    const c = openCapture(cap);
    expect(c.meta).toMatchObject({ board: `import-${format}`, revision: sample.revision });
    const msgs = toRecords(c.blocks()).filter((r) => r.kind === 'message');
    expect(msgs.map((r) => toHex(r.data))).toEqual(sample.messages.map((m) => toHex(parseHex(m.hex)!)));
    expect(msgs.map((r) => r.dir)).toEqual(sample.messages.map((m) => m.dir));
    const check = runCli(['check', cap, '--json']);
    expect(check.stderr).toContain(`note: imported from ${format}.log (${format} format)`);
    const report = JSON.parse(check.stdout);
    expect(report).toMatchObject({ board: `import-${format}`, checked: msgs.length });
    // QEMU's print has no token, OP-TEE's lines no token and no payload: check judges neither (the samples are otherwise clean).
    if (c.meta.absent) expect(report.findings).toEqual([]);
    expect(c.meta.absent).toEqual(format === 'qemu' ? ['token'] : format === 'optee' ? ['token', 'payload'] : undefined);
    expect(check.code).toBe(report.errors > 0 ? 1 : 0);
  }, 60_000);

  it('round-trips through the JSONL and pcapng exports record for record', () => {
    const journal = toRecords(openCapture(cap).blocks());
    for (const fmt of ['jsonl', 'pcapng'] as const) {
      const out = join(dir, `${format}.${fmt}`);
      const r = exportCapture(openCapture(cap), { format: fmt, out });
      if (!r.ok) throw new Error(r.error);
      expect(r.value.written).toBe(journal.length);
      const back = openCapture(out);
      expect(back.meta.revision).toBe(sample.revision);
      expect(toRecords(back.blocks())).toEqual(journal);
    }
    const stats = runCli(['stats', join(dir, `${format}.jsonl`), '--json']);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout).records).toBe(journal.length);
  }, 60_000);

  it('exports say nothing about a field the log did not print, in every format', () => {
    const records = toRecords(openCapture(cap).blocks()).filter((r) => r.kind === 'message');
    // What the header-only OP-TEE records would be blamed for if their absent payload were judged.
    const blamed = new Set(records.flatMap((r) => describeRecord(r).problems.map((p) => p.code)));
    expect(blamed.size > 0).toBe(format === 'optee');
    for (const fmt of ['jsonl', 'csv', 'perfetto', 'pcapng'] as const) {
      const out = join(dir, `${format}-absent.${fmt}`);
      const r = exportCapture(openCapture(cap), { format: fmt, out });
      if (!r.ok) throw new Error(r.error);
      const text = readFileSync(out).toString('latin1');
      for (const code of blamed) expect(text, `${fmt} export`).not.toContain(code);
    }
  }, 60_000);

  it("opens in the UI's engine with capture.open, rows as describeRecord gives them", async () => {
    const service = new WorkbenchService({ capturesDir: join(dir, 'captures') });
    const info = await service.handle('capture.open', { path: cap });
    if (!info.ok) throw new Error(info.error.message);
    const records = toRecords(openCapture(cap).blocks());
    expect((info.result as { count: number }).count).toBe(records.length);
    const rows = await service.handle('trace.rows', { from: 0, count: 100 });
    if (!rows.ok) throw new Error(rows.error.message);
    const got = (rows.result as { rows: { name: string }[] }).rows.map((r) => r.name);
    expect(got).toEqual(records.map((r) => describeRecord(r).name));
  });

  it('lists no problem about a field the log did not print, and the detail says once which', async () => {
    const service = new WorkbenchService({ capturesDir: join(dir, 'captures') });
    const info = await service.handle('capture.open', { path: cap });
    if (!info.ok) throw new Error(info.error.message);
    const records = toRecords(openCapture(cap).blocks());
    const absent = openCapture(cap).meta.absent;
    const rows = await service.handle('trace.rows', { from: 0, count: 100 });
    if (!rows.ok) throw new Error(rows.error.message);
    const got = (rows.result as { rows: { seq: number; kind: string; problems: string[] }[] }).rows;
    const messages = got.filter((r) => r.kind === 'message');
    // The samples are clean: every problem a row shows would be about the stand-in bytes.
    expect(messages.flatMap((r) => r.problems)).toEqual([]);
    if (absent) {
      // Decoded again without the capture's absent fields, the stand-in bytes do raise problems.
      expect(records.filter((r) => r.kind === 'message').some((r) => describeRecord(r).problems.length > 0)).toBe(format === 'optee');
    }
    const detail = await service.handle('trace.record', { seq: messages[0]!.seq });
    if (!detail.ok) throw new Error(detail.error.message);
    const d = detail.result as { problems: unknown[]; unheld: string | null };
    expect(d.problems).toEqual([]);
    if (format === 'optee') expect(d.unheld).toBe('the log this capture was imported from holds no token (recorded as 0) and no payload bytes (records hold the header alone): not checked: msg-size-exact, reserved-zero, field-value, R4-token-echo, R3-token-echo, request-token-nonzero, event-token-zero, status-transition, features-ok-after-write, driver-ok-after-features-ok, vqueue-absent-sentinel, vqueue-unconfigured-size, queue-index-range, event-used-after-used-ring, event-dev-num');
    else if (format === 'qemu') expect(d.unheld).toMatch(/^the log this capture was imported from holds no token \(recorded as 0\): not checked: R4-token-echo/);
    else expect(d.unheld).toBeNull();
  });
});

describe('decode of FF-A and Xen traffic', () => {
  it('names result bits, and says when R2 traffic fits the Xen variant', () => {
    const ffa = runCli(['decode', '--rev', 'r2', '03 82 00 00 0A 00 01 00 02 00']);
    expect(ffa.stdout).toBe('r2 AREA_UNSHARE dev_num 0 token 0 msg_size 10\n  area_id = 1\n  result = 2 (busy)\n0 problems, 0 findings\n');
    const xen = runCli(['decode', '00 42 00 00 0a 00 00 00 00 00']);
    expect(xen.stdout).toContain("(the messages also fit Xen's variant of r2: transport messages only, at most 44 bytes, no token)");
  }, 60_000);
});

describe('import from standard input', () => {
  it('reads the log from stdin when LOG is -', () => {
    const cap = join(dir, 'stdin-cap');
    const r = runCli(['import', '-', '--out', cap], SAMPLES.xen.text);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`6 messages (xen log, revision r2) → ${cap}: 6 records\n`);
    expect(openCapture(cap).meta.link).toBe('imported from standard input');
  }, 60_000);
});

describe('import of a log larger than a read', () => {
  it('reads it line by line across 1 MiB reads: CRLF endings and a UTF-8 character split between reads', () => {
    // Lines of a firmware log with CRLF endings; a comment with "é" (2 bytes in UTF-8) placed so
    // that its bytes straddle the first 1 MiB read, and a message line straddling it too.
    const msg = (i: number): string => `0.${String(i).padStart(6, '0')} > 00 07 01 00 ${(i & 0xff).toString(16).padStart(2, '0')} 00 08 00\r\n`;
    const head = '# café\r\n';
    const parts: string[] = [];
    let bytes = 0;
    let i = 0;
    const add = (t: string): void => {
      parts.push(t);
      bytes += Buffer.byteLength(t);
    };
    while (bytes < (1 << 20) - 200) add(msg(i++));
    add('#'.repeat((1 << 20) - 1 - bytes - 2 - head.indexOf('é')) + '\r\n' + head);
    const before = i;
    while (bytes < (1 << 20) + 4000) add(msg(i++));
    const text = parts.join('');
    expect(Buffer.from(text).subarray((1 << 20) - 1, (1 << 20) + 1).toString('latin1')).toBe(Buffer.from('é').toString('latin1'));
    const log = join(dir, 'big.log');
    writeFileSync(log, text);
    const cap = join(dir, 'cap-big');
    const r = runCli(['import', log, '--out', cap, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ format: 'hex', revision: 'r4', messages: i });
    const msgs = toRecords(openCapture(cap).blocks()).filter((x) => x.kind === 'message');
    expect(msgs.length).toBe(i);
    expect(toHex(msgs[before]!.data)).toBe(`00 07 01 00 ${(before & 0xff).toString(16).padStart(2, '0')} 00 08 00`);
  }, 60_000);
});

describe('import usage errors', () => {
  it('says what it expected', () => {
    const log = join(dir, 'x.log');
    writeFileSync(log, 'nothing to see\n');
    expect(runCli(['import', log, '--format', 'pcap', '--out', join(dir, 'x')])).toMatchObject({ code: 2, stderr: 'amp-workbench: --format expects one of hex, linux, qemu, xen, optee, saw "pcap"\n' });
    expect(runCli(['import', log])).toMatchObject({ code: 2, stderr: 'amp-workbench: import needs --out CAPTURE: a new or empty folder for the capture\n' });
    const none = runCli(['import', log, '--out', join(dir, 'x')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`amp-workbench: ${log}: no virtio-msg message found in 2 lines; expected one of the formats hex, linux, qemu, xen, optee (amp-workbench import --help shows each)\n`);
    const help = runCli(['import', '--help']);
    expect(help.code).toBe(0);
    for (const f of LOG_FORMATS) expect(help.stdout).toContain(`  ${f} `);
  }, 60_000);
});
