/**
 * What a user reads when a request fails: every error the service gives, for every method, with
 * and without a board, with bad params and with files that cannot be read or written, says what
 * happened in words. No API method name (`session.connect`: the UI has buttons, not methods), no
 * Node text ("ENOENT: no such file or directory, open …", "write EPIPE", the export's
 * `.partial` file), no JavaScript runtime text (TypeError, "Invalid atomic access index") and no
 * stack. The method stays in `error.method` for programs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { describeFailure, fileErrorText, INTERNAL_FAILURE } from '../../main/host/failure';
import { TraceStore } from '../../main/host/service/traceStore';
import { WorkbenchService } from '../../main/host/service/workbench';
import { METHOD_NAMES, type WorkbenchError, type WorkbenchMethod, type WorkbenchParams } from '../../src/api/workbench';

const root = mkdtempSync(join(tmpdir(), 'amp-texts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const METHOD = new RegExp(`(^|[^\\w/.])(${METHOD_NAMES.map((m) => m.replace('.', '\\.')).join('|')})\\b`);
/**
 * Node's own wording: an errno code not in the parentheses systemErrorText puts after its words
 * ("ENOENT: no such file…", "write EPIPE"), Node's "directory" phrasing, a syscall with its path.
 */
const NODE = /\bE[A-Z]{3,}\b(?!\))|no such file or directory|, (open|stat|rename|write) '|\.partial\b|ERR_[A-Z_]+|Cannot call write|stream was destroyed/;
const RUNTIME = /\b(TypeError|RangeError|ReferenceError|SyntaxError)\b|Invalid atomic access index|Array buffer allocation failed|is not a function|Cannot read properties|Unexpected token|\n\s+at \S/;

/** The text checks, with the message quoted so a failure shows it. */
function expectWords(e: WorkbenchError, method: string): void {
  for (const [what, re] of [
    ['an API method name', METHOD],
    ['a Node error text', NODE],
    ['a JavaScript runtime text', RUNTIME],
  ] as const) {
    expect(re.test(e.message), `${method}: ${what} in "${e.message}"`).toBe(false);
  }
  expect(e.method, `${method}: error.method`).toBe(method);
}

async function failure(service: WorkbenchService, method: WorkbenchMethod, params: unknown): Promise<WorkbenchError> {
  const r = await service.handle(method, params);
  if (r.ok) throw new Error(`${method} ${JSON.stringify(params)} succeeded, expected an error`);
  expectWords(r.error, method);
  return r.error;
}

/** A valid request per method; the compiler checks every method is here. */
const VALID: { [M in WorkbenchMethod]: WorkbenchParams<M> } = {
  'boards.list': {},
  'profile.validate': { text: '{}', fileName: 'board.json' },
  'session.connect': {},
  'session.disconnect': {},
  'session.state': {},
  'session.takeControl': {},
  'device.reset': { devNum: 1 },
  'device.workload': { devNum: 1, kind: 'rng-read', params: { bytes: 4 } },
  'device.load': { devNum: 1, kind: 'rng-read', params: { bytes: 4 }, count: 10 },
  'device.stopLoad': { devNum: 1 },
  'console.open': { devNum: 2 },
  'console.write': { devNum: 2, text: 'hi' },
  'console.close': { devNum: 2 },
  'queue.inspect': { devNum: 1, queue: 0 },
  'queue.buffer': { devNum: 1, queue: 0, desc: 0 },
  'trace.info': {},
  'trace.rows': { from: 0, count: 10 },
  'trace.record': { seq: 0 },
  'trace.records': { from: 0, max: 10 },
  'trace.window': { fromNs: 0, toNs: 1000, buckets: 4, series: 'messages' },
  'trace.stats': {},
  'trace.expert': {},
  'trace.transactions': { kind: 'virtqueue', from: 0, count: 10 },
  'trace.bookmark': { text: 'here' },
  'trace.export': { format: 'pcapng', out: join(root, 'out.pcapng') },
  'trace.cancelExport': {},
  'capture.open': { path: join(root, 'no-such-capture') },
  'capture.recent': {},
};

describe('error texts a user reads', () => {
  it('every method with bad params: the field, what was expected and seen, never the method', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    for (const m of METHOD_NAMES) {
      const unknown = await failure(service, m, { ...VALID[m], bogus: 1 });
      expect(unknown.message).toMatch(/^bogus: unknown field\(s\) "bogus"; check the spelling$/);
      const notObject = await failure(service, m, 5);
      expect(notObject.message).toMatch(/^the request: expected/);
    }
    const e = await failure(service, 'device.reset', { devNum: -1 });
    expect(e).toMatchObject({ code: 'bad-request', field: 'params.devNum', method: 'device.reset' });
    expect(e.message).toMatch(/^devNum: expected .*, saw -1$/);
  });

  it('every method without a board or a trace: what to do in the UI, never which call to make', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const failed = new Map<WorkbenchMethod, WorkbenchError>();
    for (const m of METHOD_NAMES) {
      if (m === 'session.connect') continue;
      const r = await service.handle(m, VALID[m]);
      if (r.ok) continue;
      expectWords(r.error, m);
      failed.set(m, r.error);
    }
    // What cannot work without a board, and only that, fails.
    expect([...failed.keys()].sort()).toEqual(
      ['capture.open', 'device.reset', 'device.workload', 'device.load', 'device.stopLoad', 'console.open', 'console.write', 'console.close', 'queue.inspect', 'queue.buffer', 'session.disconnect', 'trace.bookmark', 'trace.cancelExport', 'trace.export', 'trace.info', 'trace.record', 'trace.records', 'trace.rows', 'trace.stats', 'trace.window', 'trace.expert', 'trace.transactions'].sort(),
    );
    expect(failed.get('device.workload')!.message).toBe('no board is connected; connect a board first');
    expect(failed.get('trace.rows')!.message).toBe('no trace yet: connect a board or open a saved capture');
    expect(failed.get('capture.open')!.message).toBe(`cannot open capture ${VALID['capture.open'].path}: it does not exist`);
  });

  it('connecting fails in words: unknown board, bad link, bad profile, a link that cannot open', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    expect((await failure(service, 'session.connect', { board: 'no-such-board' })).message).toMatch(/^unknown board "no-such-board"; expected one of sim-/);
    await failure(service, 'session.connect', { link: 'carrier-pigeon' });
    expect((await failure(service, 'session.connect', { profileText: '{"schema": "amp-board-profile/0"}', fileName: 'b.json' })).message).toMatch(/^the board profile is invalid: /);
    const gone = await failure(service, 'session.connect', { board: 'qemu-virtio-msg-amp-pci', link: `shm-file:${join(root, 'missing', 'board.shm')}` });
    expect(gone.message).toMatch(/^connecting to qemu-virtio-msg-amp-pci failed: /);
  });

  it('with a board: busy, wrong device or queue, files that cannot be opened or written', async () => {
    const service = new WorkbenchService({ capturesDir: join(root, 'captures') });
    const c = await service.handle('session.connect', {});
    if (!c.ok) throw new Error(c.error.message);
    try {
      expect((await failure(service, 'session.connect', {})).message).toMatch(/^connected to .*; disconnect first/);
      expect((await failure(service, 'capture.open', { path: root })).message).toMatch(/^a board is connected; disconnect first/);
      expect((await failure(service, 'device.reset', { devNum: 99 })).message).toMatch(/^no device with dev_num 99; the board has /);
      await failure(service, 'queue.inspect', { devNum: 0, queue: 99 });
      await failure(service, 'device.workload', { devNum: 0, kind: 'console-send', params: { text: 'x' } });
      await failure(service, 'device.stopLoad', { devNum: 0 });
      await failure(service, 'console.open', { devNum: 0 });
      await failure(service, 'console.close', { devNum: 0 });
      await failure(service, 'queue.buffer', { devNum: 0, queue: 0, desc: 0x7fff });
      await failure(service, 'trace.record', { seq: 1e9 });
      await failure(service, 'trace.rows', { from: 0, count: 10, filter: 'dve == 1' });
      expect((await failure(service, 'trace.export', { format: 'csv', out: 'relative.csv' })).message).toMatch(/^the output file must be a full path/);

      const noFolder = join(root, 'missing', 'out.pcapng');
      expect((await failure(service, 'trace.export', { format: 'pcapng', out: noFolder })).message).toBe(
        `cannot write ${noFolder}: the folder ${join(root, 'missing')} does not exist; choose an existing folder`,
      );
      const file = join(root, 'a-file');
      writeFileSync(file, 'x');
      expect((await failure(service, 'trace.export', { format: 'pcapng', out: join(file, 'out.pcapng') })).message).toBe(
        `cannot write ${join(file, 'out.pcapng')}: a part of ${file} is a file, not a folder`,
      );
      // The export is written beside its target and renamed at the end: a folder there fails the rename.
      const folder = join(root, 'a-folder');
      mkdirSync(join(folder, 'inside'), { recursive: true });
      expect((await failure(service, 'trace.export', { format: 'jsonl', out: folder })).message).toMatch(new RegExp(`^cannot write ${folder}: `));
    } finally {
      await service.close();
    }
    const empty = join(root, 'empty');
    mkdirSync(empty);
    expect((await failure(service, 'capture.open', { path: empty })).message).toBe(`${empty} is not a capture folder: it has no capture.json`);
    await failure(service, 'session.disconnect', {});

    // A runtime error inside a request (here from the trace store) is the internal-error sentence
    // after what the user asked for; its own text is in error.detail for a bug report.
    const spy = vi.spyOn(TraceStore.prototype, 'info').mockImplementation(() => {
      throw new RangeError('Invalid atomic access index');
    });
    try {
      const e = await failure(service, 'trace.info', {});
      expect(e).toMatchObject({ code: 'failed', message: `reading the trace failed: ${INTERNAL_FAILURE}`, detail: 'RangeError: Invalid atomic access index' });
    } finally {
      spy.mockRestore();
    }
  });

  it('a runtime error is one sentence, its own text kept apart; an OS error is words with the path the user chose', () => {
    const atomics = describeFailure(new RangeError('Invalid atomic access index'));
    expect(atomics).toEqual({ text: INTERNAL_FAILURE, internal: 'RangeError: Invalid atomic access index' });
    const stream = describeFailure(Object.assign(new Error('Cannot call write after a stream was destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    expect(stream).toEqual({ text: INTERNAL_FAILURE, internal: 'Error [ERR_STREAM_DESTROYED]: Cannot call write after a stream was destroyed' });
    expect(describeFailure(new Error('the board said no'))).toEqual({ text: 'the board said no', internal: null });
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/data/x.pcapng.partial'"), { code: 'ENOENT', path: '/data/x.pcapng.partial' });
    expect(fileErrorText(enoent, '/data/x.pcapng', 'write')).toBe('the folder /data does not exist; choose an existing folder');
    const eacces = Object.assign(new Error("EACCES: permission denied, open '/data/x.pcapng.partial'"), { code: 'EACCES' });
    expect(fileErrorText(eacces, '/data/x.pcapng', 'write')).toBe('the folder /data is not writable by this user (or the file is read-only); choose another folder');
    expect(fileErrorText(enoent, '/data/x.pcapng', 'read')).toBe('it does not exist');
  });
});
