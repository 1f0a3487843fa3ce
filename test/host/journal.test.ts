import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { nodeRuntime } from '../../main/host/runtime';
import { openSession, SessionError } from '../../main/host/session';
import { journalBytes, JournalWriter, openJournal, type Capture } from '../../main/host/trace/journal';
import { findBuiltinProfile } from '../../src/boards/builtin';
import { encode } from '../../src/protocol/index';
import { toRecords } from '../../src/trace/block';
import { CHUNK_HEADER_SIZE } from '../../src/trace/chunk';
import { CAPTURE_FORMAT, type CaptureMeta } from '../../src/trace/meta';
import { Recorder } from '../../src/trace/recorder';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'amp-journal-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const META: CaptureMeta = {
  format: CAPTURE_FORMAT,
  app: 'test',
  board: 'unit',
  boardDescription: 'journal test',
  revision: 'r4',
  queueFormat: 'vmamp-shmem-v1',
  link: 'none',
  startWallNs: 1_700_000_000_000_000_000n,
  startMonoNs: 5n,
  notes: ['a note'],
};

/** Records `n` request/response pairs through a Recorder into a journal at `dir`. */
function record(dir: string, n: number, opts: { ringBytes?: number; segmentBytes?: number; close?: boolean } = {}): JournalWriter {
  const journal = new JournalWriter({ dir, meta: META, ...opts });
  const rec = new Recorder({ runtime: nodeRuntime, sink: journal, revision: 'r4', chunkBytes: 16 << 10 });
  for (let i = 0; i < n; i++) {
    const token = (i % 0xfffe) + 1;
    rec.message('driver-to-device', encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: i % 3, token }));
    rec.message('device-to-driver', encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: i % 3, token, fields: { status: 15 } }));
  }
  rec.close();
  if (opts.close !== false) journal.close(1n);
  return journal;
}

function open(dir: string): Capture {
  const o = openJournal(dir);
  if (!o.ok) throw new Error(o.error);
  return o.value;
}

function seqs(c: Capture): number[] {
  return toRecords(c.blocks()).map((r) => r.seq);
}

describe('capture journal', () => {
  it('reads back every record in order, across segments, with the metadata', () => {
    const dir = tempDir();
    record(dir, 5000, { segmentBytes: 64 << 10 });
    expect(readdirSync(dir).filter((f) => f.endsWith('.ampc')).length).toBeGreaterThan(3);
    const c = open(dir);
    expect(c.meta).toEqual(META);
    expect(c.notes).toEqual(['a note']);
    expect(c.count).toBe(10_000);
    expect(seqs(c)).toEqual([...Array(10_000).keys()]);
    const recs = toRecords(c.blocks());
    expect(recs.filter((r) => r.pairSeq !== null)).toHaveLength(5000);
  });

  it('refuses a folder that already holds something', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'other.txt'), 'x');
    expect(() => new JournalWriter({ dir, meta: META })).toThrow(/not empty/);
  });

  it('ring mode keeps only about the newest N bytes and says what is missing', () => {
    const dir = tempDir();
    record(dir, 40_000, { ringBytes: 1 << 20 });
    expect(journalBytes(dir)).toBeLessThanOrEqual((1 << 20) + (1 << 18) + (16 << 10));
    const c = open(dir);
    const s = seqs(c);
    expect(s[0]).toBeGreaterThan(0);
    expect(s[s.length - 1]).toBe(79_999);
    expect(s).toEqual([...Array(s.length).keys()].map((i) => i + s[0]!));
    expect(c.notes.some((n) => n.includes(`records 0..${s[0]! - 1} are not in the capture`))).toBe(true);
  });

  it('a torn last chunk keeps everything before it and says where it tore', () => {
    const dir = tempDir();
    record(dir, 2000);
    const seg = join(dir, 'seg-000001.ampc');
    const size = statSync(seg).size;
    truncateSync(seg, size - 100);
    const c = open(dir);
    expect(c.count).toBeGreaterThan(3000);
    expect(c.count).toBeLessThan(4000);
    expect(seqs(c)).toEqual([...Array(c.count).keys()]);
    expect(c.notes.find((n) => n.includes('torn tail'))).toMatch(/seg-000001\.ampc: torn tail .* at byte \d+: chunk of \d+ payload bytes, only \d+ present; \d+ bytes discarded/);
  });

  it('skips a damaged chunk in the middle, reports it and the records it cost', () => {
    const dir = tempDir();
    record(dir, 2000);
    const seg = join(dir, 'seg-000001.ampc');
    const bytes = readFileSync(seg);
    const second = CHUNK_HEADER_SIZE + bytes.readUInt32LE(8);
    const firstCount = bytes.readUInt32LE(12);
    const secondCount = bytes.readUInt32LE(second + 12);
    const at = second + CHUNK_HEADER_SIZE + 10; // inside the second chunk's payload
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    writeFileSync(seg, bytes);
    const c = open(dir);
    // Opening reads chunk headers only: the damage inside a payload is found when it is read.
    const s = seqs(c);
    expect(c.notes).toContain(`records ${firstCount}..${firstCount + secondCount - 1} missing (damaged chunk or lost writes)`);
    expect(c.notes.some((n) => new RegExp(`damaged chunk at byte ${second}: payload CRC-32C does not match; skipped \\d+ bytes`).test(n))).toBe(true);
    expect(s).toHaveLength(4000 - secondCount);
    expect(s[s.length - 1]).toBe(3999);
  });

  it('says when the writer never closed the capture', () => {
    const dir = tempDir();
    record(dir, 10, { close: false });
    expect(open(dir).notes).toContain('capture was not closed (writer killed or crashed): recovered 20 records up to the last flush');
  });

  it('a damaged manifest is a clear error', () => {
    const dir = tempDir();
    record(dir, 10);
    writeFileSync(join(dir, 'capture.json'), '{"format":"amp-trace/1","app":3}');
    const o = openJournal(dir);
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.error).toMatch(/capture metadata field "app": expected a string, saw 3/);
  });

  it('a session that fails to attach still leaves its trace, ending with the error', async () => {
    const dir = tempDir();
    const sim = findBuiltinProfile('sim-versal')!;
    const profile = { ...sim, hostRole: 'device' as const };
    const err = await openSession(profile, { capture: { dir: join(dir, 'cap') } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionError);
    expect((err as SessionError).trace).toEqual({ dir: join(dir, 'cap'), records: expect.any(Number) });
    const c = open(join(dir, 'cap'));
    const recs = toRecords(c.blocks());
    expect(recs.at(-1)!.kind).toBe('marker');
    expect(new TextDecoder().decode(recs.at(-1)!.data)).toMatch(/hostRole "device"/);
  });

  it('a capture killed with SIGKILL mid-write reopens with every record up to the last flush', async () => {
    const dir = join(tempDir(), 'killed');
    const child = spawn(process.execPath, ['main/host/cli/amp-workbench.cjs', 'capture', '--board', 'sim-qemu-amp-pci', '--duration', '120s', '--exercise', '--out', dir], { stdio: 'ignore' });
    const seg = join(dir, 'seg-000001.ampc');
    for (let i = 0; i < 600 && !(existsSync(seg) && statSync(seg).size > 300_000); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const c = open(dir);
    expect(c.count).toBeGreaterThan(1000);
    expect(c.notes.some((n) => n.startsWith('capture was not closed (writer killed or crashed)'))).toBe(true);
    const recs = toRecords(c.blocks());
    expect(recs.map((r) => r.seq)).toEqual([...Array(recs.length).keys()]);
    expect(recs.some((r) => r.kind === 'message' && r.pairSeq !== null)).toBe(true);
    expect(recs[0]!.kind).toBe('queue-state');
  }, 60_000);
});
