/**
 * pcapng export and import of 1,000,000 messages (targets: export ≤ 2 s, import ≤ 2 s), with
 * `tshark -r` on the same file timed in the same run: our import as a ratio to tshark reading
 * the file (-q: wiretap only) and to tshark dissecting and listing it. Files go to os.tmpdir()
 * and are deleted. Run with the others: npm run bench.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { blockCount, indexRecords } from '../../src/trace/block';
import { exportRecords } from '../../src/trace/exportWriter';
import { encodeRecord } from '../../src/trace/record';
import { importPcapng, PcapngWriter } from '../../src/trace/pcapng';
import { HAVE_TSHARK, runTool, toolDir } from '../host/wiresharkTools';
import { MESSAGE_SPECS, SampleBuilder, sampleMeta } from '../unit/trace/sample';

const MESSAGES = 1_000_000;

/** The well-formed sample messages, mostly EVENT_AVAIL / EVENT_USED as on a running device, encoded. */
const MIX: readonly Uint8Array[] = (() => {
  const b = new SampleBuilder();
  for (const s of MESSAGE_SPECS.slice(0, 21)) b.message(s);
  const events = b.records.filter((r) => r.msgId === 0x41 || r.msgId === 0x42);
  return [...b.records, ...Array.from({ length: 4 }, () => events).flat()].map(encodeRecord);
})();

/** Message records [from, from + n) of a capture of the mix, seq i at 1 µs × i, back to back. */
export function messageRecords(from: number, n: number): Uint8Array {
  let total = 0;
  for (let i = from; i < from + n; i++) total += MIX[i % MIX.length]!.length;
  const bytes = new Uint8Array(total);
  const dv = new DataView(bytes.buffer);
  let o = 0;
  for (let i = from; i < from + n; i++) {
    const t = MIX[i % MIX.length]!;
    bytes.set(t, o);
    dv.setBigUint64(o + 8, BigInt(i), true);
    dv.setBigUint64(o + 16, 5_000_000_000n + BigInt(i) * 1000n, true);
    dv.setBigUint64(o + 24, 1_763_700_000_000_000_000n + BigInt(i) * 1000n, true);
    o += t.length;
  }
  return bytes;
}

export async function run(): Promise<Record<string, number | string>> {
  const idx = indexRecords(messageRecords(0, MESSAGES));
  if (!idx.ok) throw new Error(idx.error);
  const blocks = [idx.value];
  const ws = toolDir();
  const path = join(ws.dir, 'bench.pcapng');
  try {
    const t0 = performance.now();
    const fd = openSync(path, 'w');
    exportRecords(new PcapngWriter((c) => writeSync(fd, c)), sampleMeta(), blocks);
    closeSync(fd);
    const exportMs = performance.now() - t0;

    const t1 = performance.now();
    const file = readFileSync(path);
    const r = importPcapng(file);
    const importMs = performance.now() - t1;
    if (!r.ok || blockCount(r.value.blocks) !== MESSAGES || r.value.notes.length > 0) throw new Error(`import failed: ${r.ok ? r.value.notes.join('; ') : r.error}`);

    const out: Record<string, number | string> = {
      messages: MESSAGES,
      fileMB: Math.round(statSync(path).size / 1e5) / 10,
      exportMs: Math.round(exportMs),
      exportMeetsTarget: exportMs <= 2000 ? 'yes' : 'no',
      importMs: Math.round(importMs),
      importMeetsTarget: importMs <= 2000 ? 'yes' : 'no',
    };
    if (HAVE_TSHARK) {
      const timed = (args: string[]): number => {
        const t = performance.now();
        const res = runTool('tshark', ['-r', path, ...args], ws.home, { timeoutMs: 600_000, discardStdout: true });
        if (res.code !== 0 || res.stderr !== '') throw new Error(`tshark ${args.join(' ')}: exit ${res.code}: ${res.stderr}`);
        return performance.now() - t;
      };
      const readMs = timed(['-q']);
      const listMs = timed([]);
      out['tsharkReadMs'] = Math.round(readMs);
      out['tsharkListMs'] = Math.round(listMs);
      out['importVsTsharkRead'] = Math.round((importMs / readMs) * 1000) / 1000;
      out['importVsTsharkList'] = Math.round((importMs / listMs) * 1000) / 1000;
    } else {
      out['tshark'] = 'not installed';
    }
    return out;
  } finally {
    ws.dispose();
  }
}
