/**
 * Opens anything we can read back as a capture: a journal folder, our pcapng, our JSONL. The
 * format is told by content (folder, pcapng section magic, a JSON object line), not by name.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

import { openJsonl } from '../../../src/trace/jsonl';
import { openPcapng } from '../../../src/trace/pcapng';
import type { ByteSource } from '../../../src/trace/source';
import { fileErrorText } from '../failure';
import { openJournal, readBuffer, type CaptureOpen } from './journal';

const PCAPNG_SHB = [0x0a, 0x0d, 0x0d, 0x0a];

function head(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** A file read with positioned reads, opened for each piece so no descriptor outlives a read. */
function fileSource(path: string): ByteSource {
  const size = statSync(path).size;
  return {
    size,
    read(at, n, into) {
      const len = Math.max(0, Math.min(n, size - at));
      const b = into ? into.subarray(0, len) : readBuffer(len);
      const fd = openSync(path, 'r');
      try {
        let got = 0;
        while (got < b.length) {
          const r = readSync(fd, b, got, b.length - got, at + got);
          if (r === 0) return b.subarray(0, got);
          got += r;
        }
        return b;
      } finally {
        closeSync(fd);
      }
    },
  };
}

export function loadCapture(path: string): CaptureOpen {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    return { ok: false, error: `cannot open capture ${path}: ${fileErrorText(e, path, 'read')}` };
  }
  if (isDir) return openJournal(path);
  const h = head(path, 4);
  if (h.length === 4 && PCAPNG_SHB.every((b, i) => h[i] === b)) {
    const r = openPcapng(fileSource(path), path);
    return r.ok ? r : { ok: false, error: `${path}: ${r.error}` };
  }
  if (h[0] === 0x7b /* { */) {
    const r = openJsonl(fileSource(path), path);
    return r.ok ? r : { ok: false, error: `${path}: ${r.error}` };
  }
  const seen = [...h].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return { ok: false, error: `${path}: not a capture this workbench reads; expected a capture folder, a pcapng file (starts 0a 0d 0d 0a) or JSONL (starts "{"), saw ${seen || 'an empty file'}` };
}
