/**
 * COBS (Consistent Overhead Byte Stuffing, Cheshire & Baker 1999) with 0x00 as the frame
 * delimiter (docs/amp-bus.md §9.2 "Framing: COBS (0x00 delimiter)"). An encoded frame never contains
 * 0x00, so a receiver that lost bytes resynchronises at the next delimiter.
 * The same vectors are checked by main/bridge-agent/test (cobs.c) and test/unit/serialBridge.
 */

/** Worst-case encoded size of `n` bytes, without the delimiter: one code byte per 254 data bytes. */
export function cobsMaxEncoded(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

/** Encodes `data`; the result has no 0x00 and no trailing delimiter. */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncoded(data.length));
  let codeAt = 0;
  let o = 1;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b !== 0) {
      out[o++] = b;
      code++;
    }
    if (b === 0 || code === 0xff) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
      // A full 254-byte block at the very end needs no empty trailing block.
      if (b !== 0 && i === data.length - 1) return out.subarray(0, codeAt);
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** Decodes one encoded frame (no delimiter); null when it is not valid COBS (a 0x00 or a code past the end). */
export function cobsDecode(enc: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(enc.length);
  let o = 0;
  let i = 0;
  while (i < enc.length) {
    const code = enc[i++]!;
    if (code === 0 || i + code - 1 > enc.length) return null;
    for (let k = 1; k < code; k++) {
      const b = enc[i++]!;
      if (b === 0) return null;
      out[o++] = b;
    }
    if (code !== 0xff && i < enc.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}

/**
 * Splits a byte stream at 0x00 delimiters into encoded frames, across arbitrary chunking. A frame
 * longer than `maxEncoded` is discarded up to its delimiter (counted in `overruns`), so a stream of
 * garbage costs bounded memory.
 */
export class CobsSplitter {
  private buf: Uint8Array;
  private len = 0;
  private overrun = false;
  overruns = 0;

  constructor(private readonly maxEncoded: number) {
    this.buf = new Uint8Array(maxEncoded);
  }

  /** Feeds bytes; calls `onFrame` with each complete non-empty encoded frame (a view, valid during the call). */
  push(chunk: Uint8Array, onFrame: (encoded: Uint8Array) => void): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0) {
        if (!this.overrun && this.len > 0) onFrame(this.buf.subarray(0, this.len));
        this.len = 0;
        this.overrun = false;
      } else if (this.overrun) {
        continue;
      } else if (this.len === this.maxEncoded) {
        this.overrun = true;
        this.overruns++;
        this.len = 0;
      } else {
        this.buf[this.len++] = b;
      }
    }
  }
}
