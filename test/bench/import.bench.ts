/**
 * amp-workbench import of a large hex log (docs/formats.md §5): wall time and peak RSS of the CLI
 * for 200,000 and 2,000,000 messages (request/response pairs with times and directions). The log
 * is read line by line in two passes, so peak RSS must not grow with the log's size.
 * Run with the others: npm run bench.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { childRun } from './childRun';

const BIN = resolve(__dirname, '../../main/host/cli/amp-workbench.cjs');

/** A firmware-style log: GET_DEVICE_STATUS request and response pairs (R4), 50 µs apart. */
function writeLog(path: string, messages: number): void {
  const fd = openSync(path, 'w');
  const lines: string[] = [];
  const hex = (v: number): string => v.toString(16).padStart(2, '0');
  for (let i = 0; i < messages; i++) {
    const us = i * 50;
    const time = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
    const token = ((i >> 1) % 0xffff) + 1;
    const tok = `${hex(token & 0xff)} ${hex(token >> 8)}`;
    lines.push(i % 2 === 0 ? `${time} > 00 07 01 00 ${tok} 08 00` : `${time} < 01 07 01 00 ${tok} 0c 00 0f 00 00 00`);
    if (lines.length === 10_000) writeSync(fd, lines.splice(0).join('\n') + '\n');
  }
  writeSync(fd, lines.join('\n') + '\n');
  closeSync(fd);
}

export async function run(): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'amp-import-bench-'));
  const result: Record<string, number | string> = {};
  try {
    for (const [key, messages] of [['200k', 200_000], ['2M', 2_000_000]] as const) {
      const log = join(dir, `${key}.log`);
      writeLog(log, messages);
      const r = childRun(process.execPath, [BIN, 'import', log, '--out', join(dir, `cap-${key}`), '--json']);
      const out = JSON.parse(r.stdout) as { messages: number };
      if (out.messages !== messages) throw new Error(`import of ${messages} messages read ${out.messages}`);
      result[`wallMs${key}`] = Math.round(r.wallMs);
      result[`peakRssMB${key}`] = r.peakRssMB;
      result[`msgPerSecond${key}`] = Math.round(messages / (r.wallMs / 1000));
      rmSync(log);
      rmSync(join(dir, `cap-${key}`), { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}
