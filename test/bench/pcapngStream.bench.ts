/**
 * `stats` and `export` of a pcapng with 4,000,000 messages, each a child process of the CLI, its
 * peak RSS as the kernel counted it (targets: ≤ 300 MB; wall time ≤ 0.6 × `tshark -r FILE -q -z
 * io,stat,0` on the same file in the same run). The file is written under os.tmpdir() a block at
 * a time and deleted. The export runs twice: into /dev/shm (its own cost; the target) and into
 * os.tmpdir() (with the disk's).
 */
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { indexRecords, type RecordBlock } from '../../src/trace/block';
import { exportRecords } from '../../src/trace/exportWriter';
import { PcapngWriter } from '../../src/trace/pcapng';
import { HAVE_TSHARK, runTool, toolDir } from '../host/wiresharkTools';
import { sampleMeta } from '../unit/trace/sample';
import { childRun, type ChildRun } from './childRun';
import { messageRecords } from './pcapng.bench';

const MESSAGES = 4_000_000;
const PER_BLOCK = 100_000;
const CLI = join(__dirname, '../../main/host/cli/amp-workbench.cjs');

function* messageBlocks(): Generator<RecordBlock> {
  for (let i = 0; i < MESSAGES; i += PER_BLOCK) {
    const idx = indexRecords(messageRecords(i, Math.min(PER_BLOCK, MESSAGES - i)));
    if (!idx.ok) throw new Error(idx.error);
    yield idx.value;
  }
}

export async function run(): Promise<Record<string, number | string>> {
  if (!HAVE_TSHARK) return { tshark: 'not installed' };
  const ws = toolDir();
  const path = join(ws.dir, 'stream.pcapng');
  try {
    const fd = openSync(path, 'w');
    exportRecords(new PcapngWriter((c) => writeSync(fd, c)), sampleMeta(), messageBlocks());
    // On disk before anything is timed: its write-back must not run under the measurements.
    fsyncSync(fd);
    closeSync(fd);

    const t = performance.now();
    const io = runTool('tshark', ['-r', path, '-q', '-z', 'io,stat,0'], ws.home, { timeoutMs: 600_000 });
    const tsharkMs = performance.now() - t;
    if (io.code !== 0) throw new Error(`tshark: exit ${io.code}: ${io.stderr}`);

    const stats = childRun(process.execPath, [CLI, 'stats', path, '--json']);
    const records = (JSON.parse(stats.stdout) as { records: number }).records;
    if (records !== MESSAGES) throw new Error(`stats counted ${records} records, expected ${MESSAGES}`);
    // The export's own cost with its output in memory (tmpfs) where there is one, and with it on
    // the disk beside the input: writing 675 MB to this machine's /tmp alone takes 1.6-2 s.
    const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/amp-export-') : null;
    let exported: ChildRun;
    try {
      exported = childRun(process.execPath, [CLI, 'export', path, '--format', 'pcapng', '--out', join(shm ?? ws.dir, 'out.pcapng')]);
    } finally {
      if (shm) rmSync(shm, { recursive: true, force: true });
    }
    const toDisk = childRun(process.execPath, [CLI, 'export', path, '--format', 'pcapng', '--out', join(ws.dir, 'out.pcapng')]);
    const ratio = (ms: number): number => Math.round((ms / tsharkMs) * 1000) / 1000;
    return {
      messages: MESSAGES,
      fileMB: Math.round(statSync(path).size / 1e5) / 10,
      tsharkIoStatMs: Math.round(tsharkMs),
      statsMs: Math.round(stats.wallMs),
      statsPeakRssMB: stats.peakRssMB,
      statsVsTshark: ratio(stats.wallMs),
      exportMs: Math.round(exported.wallMs),
      exportPeakRssMB: exported.peakRssMB,
      exportVsTshark: ratio(exported.wallMs),
      exportOut: shm ? 'tmpfs' : 'disk',
      exportToDiskMs: Math.round(toDisk.wallMs),
      exportToDiskVsTshark: ratio(toDisk.wallMs),
    };
  } finally {
    ws.dispose();
  }
}
