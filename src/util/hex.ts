/** "00 02 0a" / "00020A" / "0x00,0x02" → bytes; null when the text is not whole hex bytes. */
export function parseHex(text: string): Uint8Array | null {
  const clean = text.replace(/0x/gi, '').replace(/[\s,:;_-]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Bytes as lower-case hex, separated by `sep` (default one space). */
export function toHex(bytes: Uint8Array, sep = ' '): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (i === 0 ? '' : sep) + HEX[bytes[i]!];
  return s;
}

/** A number as "0x…" with at least `digits` hex digits: hexNum(0x4c, 4) → "0x004c". */
export function hexNum(n: number | bigint, digits = 1): string {
  return '0x' + n.toString(16).padStart(digits, '0');
}

export function hex32(n: number): string {
  return hexNum(n >>> 0, 8);
}
