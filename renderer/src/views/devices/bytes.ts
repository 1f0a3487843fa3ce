/** Bytes as the Devices and Queues views show them: hex pairs (as the API carries them) and printable ASCII. */

/** "a1b2c3" → "a1 b2 c3". */
export function spacedHex(hex: string): string {
  return hex.replace(/(..)(?!$)/g, '$1 ');
}

/** Each byte as its ASCII character when printable, else "." (as hex dumps do). */
export function printable(hex: string): string {
  return (hex.match(/../g) ?? [])
    .map((h) => {
      const c = parseInt(h, 16);
      return c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
    })
    .join('');
}

/** Hex bytes as rows of 16 with their offsets and the row's printable characters. */
export function hexRows(hex: string): { offset: number; bytes: string; ascii: string }[] {
  const rows: { offset: number; bytes: string; ascii: string }[] = [];
  for (let i = 0; i < hex.length; i += 32) {
    const row = hex.slice(i, i + 32);
    rows.push({ offset: i / 2, bytes: spacedHex(row), ascii: printable(row) });
  }
  return rows;
}

/** A hex dump: "0000  01 02 …  ascii" per row of 16 (the bytes column padded so ASCII lines up). */
export function hexDump(hex: string): string {
  return hexRows(hex)
    .map((r) => `${r.offset.toString(16).padStart(4, '0')}  ${r.bytes.padEnd(47)}  ${r.ascii}`)
    .join('\n');
}
