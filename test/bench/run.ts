/**
 * npm run bench: runs every benchmark in turn and prints one JSON object per benchmark, then a
 * summary with the issue targets. Timing never decides whether npm test passes; these numbers
 * go into the issue notes. `npm run bench -- NAME...` runs only those.
 */
import { run as bus } from './bus.bench';
import { run as crossThread } from './crossThread.bench';
import { run as decode } from './decode.bench';
import { run as ivshmem } from './ivshmem.bench';
import { run as pcapng } from './pcapng.bench';
import { run as qtest } from './qtest.bench';
import { run as serialBridge } from './serialBridge.bench';
import { run as shmFile } from './shmFile.bench';
import { run as traceExport } from './traceExport.bench';
import { run as traceQuery } from './traceQuery.bench';
import { run as traceRecord } from './traceRecord.bench';
import { run as traceUi } from './traceUi.bench';
import { run as virtqueue } from './virtqueue.bench';
import { run as webFirstPaint } from './webFirstPaint.bench';
import { run as webFirstResponse } from './webFirstResponse.bench';

type Result = Record<string, number | string>;

const BENCHES: [string, () => Promise<Result>][] = [
  ['decode', decode],
  ['bus', bus],
  ['virtqueue', virtqueue],
  ['crossThread', crossThread],
  ['traceRecord', traceRecord],
  ['traceQuery', traceQuery],
  ['pcapng', pcapng],
  ['traceExport', traceExport],
  ['shmFile', shmFile],
  ['serialBridge', serialBridge],
  ['ivshmem', ivshmem],
  ['qtest', qtest],
  ['webFirstResponse', webFirstResponse],
  ['webFirstPaint', webFirstPaint],
  ['traceUi', traceUi],
];

/** [benchmark, result key, target text, test]: the issues' speed and memory targets. */
const TARGETS: [string, string, string, (v: number) => boolean][] = [
  ['crossThread', 'rttP50Us', '<= 20', (v) => v <= 20],
  ['crossThread', 'rttP99Us', '<= 200', (v) => v <= 200],
  ['crossThread', 'throughputPerSecond', '>= 1000000', (v) => v >= 1_000_000],
  ['decode', 'decodePerSecond', '>= 5000000', (v) => v >= 5_000_000],
  ['traceRecord', 'recordPerSecond', '>= 1000000', (v) => v >= 1_000_000],
  ['traceRecord', 'peakRssMB', '< 300', (v) => v < 300],
  ['pcapng', 'exportMs', '<= 2000', (v) => v <= 2000],
  ['pcapng', 'importMs', '<= 2000', (v) => v <= 2000],
  ['traceQuery', 'filterWorstMs', '<= 300', (v) => v <= 300],
  ['webFirstPaint', 'firstPaintMs', '<= 2000', (v) => v <= 2000],
  ['traceUi', 'liveFrameP95Ms', '<= 33', (v) => v <= 33],
];

async function main(): Promise<void> {
  const only = process.argv.slice(3);
  const unknown = only.filter((n) => !BENCHES.some(([b]) => b === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s) ${unknown.join(', ')}; expected: ${BENCHES.map(([b]) => b).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const results: Record<string, Result> = {};
  for (const [name, bench] of BENCHES) {
    if (only.length > 0 && !only.includes(name)) continue;
    results[name] = await bench();
    process.stdout.write(JSON.stringify({ bench: name, ...results[name] }) + '\n');
  }
  const targets: Record<string, { value: number | string; target: string; met: boolean }> = {};
  for (const [bench, key, target, ok] of TARGETS) {
    const v = results[bench]?.[key];
    if (v !== undefined) targets[`${bench}.${key}`] = { value: v, target, met: ok(Number(v)) };
  }
  process.stdout.write(JSON.stringify({ bench: 'targets', ...targets }) + '\n');
}

void main();
