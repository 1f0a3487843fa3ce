/**
 * The shared vectors (main/bridge-agent/test/vectors.txt), which the C agent's `make test` checks
 * too: COBS, CRC-32C, golden frames byte for byte, and request → reply exchanges on the test
 * board (here against the in-process fake agent, so that it stays faithful to the C one).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

import { cobsDecode, cobsEncode } from '../../../src/serialBridge/cobs';
import { decodeFrame, encodeFrame } from '../../../src/serialBridge/protocol';
import { crc32c } from '../../../src/util/crc32c';
import { toHex } from '../../../src/util/hex';
import { FakeAgent } from './fakeAgent';

const FILE = resolve(__dirname, '../../../main/bridge-agent/test/vectors.txt');

/** "01 02..05 -" → bytes (ranges inclusive, "-" is nothing), as test_agent.c parses them. */
function bytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const tok of text.trim().split(/\s+/)) {
    if (tok === '-' || tok === '') continue;
    const range = /^([0-9a-f]+)\.\.([0-9a-f]+)$/i.exec(tok);
    if (range) for (let b = parseInt(range[1]!, 16); b <= parseInt(range[2]!, 16); b++) out.push(b);
    else out.push(parseInt(tok, 16));
  }
  return Uint8Array.from(out);
}

interface Vector {
  line: number;
  kind: string;
  args: string[];
  left: Uint8Array;
  right: Uint8Array;
}

const vectors: Vector[] = readFileSync(FILE, 'utf8')
  .split('\n')
  .map((text, i) => ({ text: text.trim(), line: i + 1 }))
  .filter(({ text }) => text !== '' && !text.startsWith('#'))
  .map(({ text, line }) => {
    const [head, right] = text.split(' = ') as [string, string];
    const [kind, ...rest] = head.split(/\s+/) as [string, ...string[]];
    const args = kind === 'frame' ? rest.slice(0, 2) : [];
    return { line, kind, args, left: bytes((kind === 'frame' ? rest.slice(2) : rest).join(' ')), right: bytes(right) };
  });
const of = (kind: string) => vectors.filter((v) => v.kind === kind);

describe('shared bridge vectors', () => {
  it('has every kind', () => {
    expect(new Set(vectors.map((v) => v.kind))).toEqual(new Set(['cobs', 'crc', 'frame', 'exchange']));
  });

  it.each(of('cobs'))('COBS line $line', ({ left, right }) => {
    expect(toHex(cobsEncode(left))).toBe(toHex(right));
    expect(toHex(cobsDecode(right)!)).toBe(toHex(left));
  });

  it.each(of('crc'))('CRC-32C line $line', ({ left, right }) => {
    expect(crc32c(left)).toBe(new DataView(right.buffer).getUint32(0, false));
  });

  it('CRC-32C check value of "123456789" is 0xE3069283', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it.each(of('frame'))('golden frame line $line', ({ args, left, right }) => {
    const type = parseInt(args[0]!, 16);
    const seq = parseInt(args[1]!, 16);
    expect(toHex(encodeFrame(type, seq, left))).toBe(toHex(right));
    const r = decodeFrame(right.subarray(0, right.length - 1));
    expect(r.ok && { type: r.value.type, seq: r.value.seq, payload: toHex(r.value.payload) }).toEqual({ type, seq, payload: toHex(left) });
  });

  it('exchanges: the fake agent answers as the C agent does, byte for byte', () => {
    let out: Uint8Array[] = [];
    const agent = FakeAgent.testBoard((b) => out.push(b));
    for (const v of of('exchange')) {
      out = [];
      agent.receive(v.left);
      expect({ line: v.line, reply: out.map((b) => toHex(b)).join(' ') }).toEqual({ line: v.line, reply: toHex(v.right) });
    }
  });
});
