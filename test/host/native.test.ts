/**
 * The native addon against the real kernel objects it exists for: a /dev/shm file mapped twice,
 * a FIFO standing in for /dev/uioN, eventfds, and fds passed over a UNIX socket pair.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { loadNative, NATIVE_ADDON_PATH, type NativeAddon } from '../../main/native/index';
import { NativeWindow } from '../../main/host/links/nativeWindow';

const native = loadNative();
const addon = (native.ok ? native.value : null) as NativeAddon;
const dir = mkdtempSync(join(existsDevShm() ? '/dev/shm' : tmpdir(), 'amp-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function existsDevShm(): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ');
  } catch {
    return false;
  }
}

/** Values arrive on the addon's thread; wait (bounded by the test timeout) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 1));
}

const u32le = (n: number) => new Uint8Array(Uint32Array.of(n).buffer);

const NATIVE_MODULE = resolve(__dirname, '../../main/native/index.ts');
const WINDOW_MODULE = resolve(__dirname, '../../main/host/links/nativeWindow.ts');

/**
 * A separate process that maps `file` through the addon and a NativeWindow, says "mapped", and
 * on a line on stdin runs one access of each kind; it prints what each did and what the
 * window reported as gone, then exits 0. A SIGBUS that escaped the guard would kill it instead.
 */
const SHRINK_CHILD = `
require('tsx/cjs');
const { loadNative } = require(${JSON.stringify(NATIVE_MODULE)});
const { NativeWindow, MappingGoneError } = require(${JSON.stringify(WINDOW_MODULE)});
const [file] = process.argv.slice(1);
const native = loadNative();
if (!native.ok) throw new Error(native.error);
const gone = [];
const w = new NativeWindow(native.value.map(file, 0, 0x4000), 0x1000, 0x3000, (e) => gone.push(e.message));
process.stdout.write('mapped\\n');
process.stdin.once('data', async () => {
  const results = [];
  const accesses = [() => w.load(0x2000, 32), () => w.read(0x1ff0, 0x20), () => w.write(0, Uint8Array.of(1)), () => w.store(0, 32, 1), () => w.load(0, 32), () => w.fence()];
  for (const access of accesses) {
    try {
      await access();
      results.push('ok');
    } catch (e) {
      results.push(e instanceof MappingGoneError ? e.message : 'not a MappingGoneError: ' + String(e));
    }
  }
  process.stdout.write(JSON.stringify({ results, gone: gone.length }) + '\\n');
  process.exit(0);
});
`;

describe.skipIf(!native.ok)(native.ok ? 'native addon' : `native addon (skipped: ${native.error})`, () => {
  describe('map', () => {
    const file = join(dir, 'window');
    writeFileSync(file, new Uint8Array(0x4000));

    it('a read-only mapping reads, and refuses writes and stores instead of faulting', () => {
      const ro = addon.map(file, 0, 0x1000, { readOnly: true });
      try {
        expect(ro.load(0, 32)).toBe(0);
        expect(() => ro.write(0, Uint8Array.of(1))).toThrow(/read-only/);
        expect(() => ro.store(0, 32, 1)).toThrow(/read-only/);
        expect(readFileSync(file)[0]).toBe(0);
      } finally {
        ro.unmap();
      }
    });

    it('two mappings of one file see each other’s copies and single accesses, and so does the file', () => {
      const a = addon.map(file, 0, 0x4000);
      const b = addon.map(file, 0x1000, 0x2000);
      try {
        expect(b.size).toBe(0x2000);
        a.write(0x1010, Uint8Array.of(1, 2, 3, 4, 5));
        const seen = new Uint8Array(5);
        b.readInto(0x10, seen);
        expect([...seen]).toEqual([1, 2, 3, 4, 5]);
        b.store(0x20, 8, 0xab);
        b.store(0x22, 16, 0xbeef);
        b.store(0x24, 32, 0xdeadbeef);
        b.store(0x28, 64, 0x0123456789abcdefn);
        b.fence();
        expect([a.load(0x1020, 8), a.load(0x1022, 16), a.load(0x1024, 32), a.load(0x1028, 64)]).toEqual([0xab, 0xbeef, 0xdeadbeef, 0x0123456789abcdefn]);
        // Little-endian in memory, whatever reads it.
        expect([...readFileSync(file).subarray(0x1024, 0x1030)]).toEqual([0xef, 0xbe, 0xad, 0xde, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]);
      } finally {
        a.unmap();
        b.unmap();
      }
    });

    it('copies agree byte for byte between the mappings and the file for any writes', () => {
      const a = addon.map(file, 0, 0x4000);
      const b = addon.map(file, 0, 0x4000);
      const model = new Uint8Array(readFileSync(file));
      try {
        fc.assert(
          fc.property(fc.array(fc.tuple(fc.nat(0x3fff), fc.uint8Array({ minLength: 1, maxLength: 300 })), { maxLength: 20 }), (writes) => {
            for (const [at, bytes] of writes) {
              const data = bytes.subarray(0, 0x4000 - at);
              a.write(at, data);
              model.set(data, at);
            }
            const out = new Uint8Array(0x4000);
            b.readInto(0, out);
            // Buffer.compare: a 16 KiB toEqual per run would dominate the test's time.
            expect(Buffer.compare(out, model)).toBe(0);
          }),
          { numRuns: 50 },
        );
        expect(new Uint8Array(readFileSync(file))).toEqual(model);
      } finally {
        a.unmap();
        b.unmap();
      }
    });

    it('refuses out-of-range, misaligned and too-wide accesses with RangeError, and any use after unmap', () => {
      const m = addon.map(file, 0, 0x100);
      expect(() => m.readInto(0xfc, new Uint8Array(8))).toThrow(RangeError);
      expect(() => m.write(0x100, Uint8Array.of(1))).toThrow(/outside mapping of 256 bytes/);
      expect(() => m.load(2, 32)).toThrow(/unaligned offset 2/);
      expect(() => m.store(0, 8, 0x100)).toThrow(/unsigned 8-bit/);
      expect(() => m.load(0, 24 as 32)).toThrow(/width/);
      m.unmap();
      m.unmap();
      expect(() => m.load(0, 32)).toThrow(/unmapped/);
    });

    it('refuses a file too small for the mapping and a missing file, naming them', () => {
      expect(() => addon.map(file, 0x3000, 0x2000)).toThrow(`${file} is 16384 bytes; mapping [12288, 20480) needs at least 20480`);
      expect(() => addon.map(join(dir, 'missing'), 0, 16)).toThrow(/open .*missing: No such file or directory/);
    });

    it('serves a NativeWindow over a sub-range', async () => {
      const m = addon.map(file, 0, 0x4000);
      try {
        const w = new NativeWindow(m, 0x2000, 0x100);
        await w.store(4, 32, 0x11223344);
        expect(await w.load(4, 32)).toBe(0x11223344);
        expect(m.load(0x2004, 32)).toBe(0x11223344);
        await w.write(8, Uint8Array.of(9, 8, 7));
        expect([...(await w.read(8, 3))]).toEqual([9, 8, 7]);
        expect(() => w.read(0xff, 2)).toThrow(RangeError);
        expect(() => new NativeWindow(m, 4, 8)).toThrow(/8-byte aligned/);
      } finally {
        m.unmap();
      }
    });
  });

  describe('a file that shrinks under its mapping', () => {
    it('turns the bus error into an error that says so, in every access after it too, without killing the process', async () => {
      const file = join(dir, 'shrinking');
      writeFileSync(file, new Uint8Array(0x4000));
      const child = spawn(process.execPath, ['-e', SHRINK_CHILD, file], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
      await new Promise<void>((ok) =>
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out === 'mapped\n') ok();
        }),
      );
      // The board side's truncation: the window's pages from file offset 0x2000 on are gone.
      truncateSync(file, 0x1800);
      child.stdin.end('go\n');
      expect(await exited, err).toEqual([0, null]);
      const shrank = `the shared file ${file} shrank to 6144 bytes under the session (expected at least 16384): the board side truncated it`;
      // The first access faults; every later one fails the same way, even one the file still holds (offset 0).
      expect(JSON.parse(out.slice('mapped\n'.length))).toEqual({ results: Array(6).fill(shrank), gone: 6 });
    });

    it('hands a fault outside its guarded accesses to the handler installed before it: V8 still turns a WebAssembly trap into a RuntimeError', () => {
      // (module (memory 1) (func (export "f") (result i32) (i32.load (i32.const 0x20000)))): on
      // x64 Linux V8 catches the out-of-bounds load as SIGSEGV in its trap handler, which the
      // addon's handler must call rather than swallow or die on.
      const wasm = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 5, 1, 1, 0x66, 0, 0, 0x0a, 0x0b, 1, 9, 0, 0x41, 0x80, 0x80, 0x08, 0x28, 2, 0, 0x0b];
      const script =
        `require(${JSON.stringify(NATIVE_ADDON_PATH)});` +
        `const { f } = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.from(${JSON.stringify(wasm)}))).exports;` +
        `try { f(); } catch (e) { process.stdout.write(e.constructor.name + ': ' + e.message); }`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      expect([r.status, r.signal, r.stdout]).toEqual([0, null, 'RuntimeError: memory access out of bounds']);
    });

    it('leaves a bus error that is not inside a guarded access to the default action', () => {
      const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(NATIVE_ADDON_PATH)}); process.kill(process.pid, 'SIGBUS');`]);
      expect(r.signal).toBe('SIGBUS');
    });
  });

  describe('watchFile on a FIFO standing in for /dev/uioN', () => {
    it('delivers each 4-byte count in order, then EOF when the writer closes', async () => {
      const fifo = join(dir, 'uio-fifo');
      execFileSync('mkfifo', [fifo]);
      const counts: number[] = [];
      const errors: string[] = [];
      const watch = addon.watchFile(fifo, 4, (v) => counts.push(v), (e) => errors.push(e));
      try {
        const writer = openSync(fifo, 'w');
        writeSync(writer, u32le(1));
        // One count split across two writes still arrives whole.
        writeSync(writer, u32le(2).subarray(0, 1));
        writeSync(writer, u32le(2).subarray(1));
        writeSync(writer, new Uint8Array([...u32le(3), ...u32le(0xfffffffe)]));
        await until(() => counts.length === 4);
        closeSync(writer);
        await until(() => errors.length === 1);
        expect(counts).toEqual([1, 2, 3, 0xfffffffe]);
        expect(errors[0]).toMatch(/end of file on .*uio-fifo/);
      } finally {
        watch.close();
      }
    });

    it('close() unblocks the waiting thread and closes the FIFO, with nothing delivered after', () => {
      const fifo = join(dir, 'idle-fifo');
      execFileSync('mkfifo', [fifo]);
      const delivered: unknown[] = [];
      const watch = addon.watchFile(fifo, 4, (v) => delivered.push(v), (e) => delivered.push(e));
      // A writer that does not block can open only while a reader has the FIFO open.
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      watch.close();
      watch.close();
      expect(() => openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)).toThrow(/ENXIO/);
      expect(delivered).toEqual([]);
    });
  });

  describe('eventfd', () => {
    it('round-trips counts through watchFd', async () => {
      const fd = addon.eventfd(0);
      const seen: number[] = [];
      const watch = addon.watchFd(fd, 8, (v) => seen.push(v), (e) => seen.push(Number.NaN, e.length));
      try {
        addon.eventfdWrite(fd, 5);
        await until(() => seen.length === 1);
        addon.eventfdWrite(fd, 2);
        addon.eventfdWrite(fd, 3);
        // Rings that land before the read coalesce into one count, as eventfd semantics say.
        await until(() => seen.reduce((a, b) => a + b, 0) === 10);
        expect(seen[0]).toBe(5);
      } finally {
        watch.close();
        addon.closeFd(fd);
      }
    });
  });

  describe('SCM_RIGHTS over a socket pair', () => {
    it('passes an eventfd and a shared-memory fd that the receiver can ring and map', async () => {
      const [a, b] = addon.socketpair();
      const bell = addon.eventfd(0);
      const shmPath = join(dir, 'passed');
      writeFileSync(shmPath, new Uint8Array(0x1000));
      const shmFd = openSync(shmPath, 'r+');
      try {
        expect(addon.recvWithFds(b, 64, 10)).toBeNull();
        addon.sendWithFds(a, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0), [bell, shmFd]);
        const got = addon.recvWithFds(b, 64, 1000);
        expect(got?.data).toEqual(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0));
        expect(got?.fds).toHaveLength(2);
        const [bell2, shm2] = got!.fds as [number, number];
        expect([bell2, shm2]).not.toContain(bell);

        const seen: number[] = [];
        const watch = addon.watchFd(bell, 8, (v) => seen.push(v), () => undefined);
        addon.eventfdWrite(bell2, 7);
        await until(() => seen.length === 1);
        watch.close();
        expect(seen).toEqual([7]);

        const m = addon.mapFd(shm2, 0, 0x1000);
        m.store(0x40, 32, 0xcafef00d);
        m.unmap();
        expect(readFileSync(shmPath).readUInt32LE(0x40)).toBe(0xcafef00d);

        expect(() => addon.sendWithFds(a, new Uint8Array(0), [bell])).toThrow(/at least one data byte/);
        addon.closeFd(a);
        expect(addon.recvWithFds(b, 64, 1000)).toEqual({ data: new Uint8Array(0), fds: [] });
        for (const fd of [bell2, shm2]) addon.closeFd(fd);
      } finally {
        closeSync(shmFd);
        addon.closeFd(bell);
        addon.closeFd(b);
      }
    });

    it('unixConnect names the path it could not reach', () => {
      expect(() => addon.unixConnect(join(dir, 'nobody.sock'))).toThrow(/connect .*nobody\.sock: No such file or directory/);
    });
  });
});
