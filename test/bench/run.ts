/**
 * npm run bench: runs every benchmark in turn and prints one JSON object per benchmark, then a
 * summary with the issue targets. Timing never decides whether npm test passes; these numbers
 * go into the issue notes. `npm run bench -- NAME...` runs only those.
 */

import { createRequire } from 'node:module';

type Result = Record<string, number | string>;

// The runner's loader (tsx) hooks require, not import().
const load = createRequire(__filename) as (id: string) => { run(): Promise<Result> };

/**
 * Loaded one at a time, when run: a benchmark's memory figures (traceRecord's peak RSS) must not
 * include the modules of the others (Playwright, the web server…).
 */
const BENCHES: [string, () => { run(): Promise<Result> }][] = [
  ['decode', () => load('./decode.bench')],
  ['bus', () => load('./bus.bench')],
  ['virtqueue', () => load('./virtqueue.bench')],
  ['crossThread', () => load('./crossThread.bench')],
  ['traceRecord', () => load('./traceRecord.bench')],
  ['traceQuery', () => load('./traceQuery.bench')],
  ['pcapng', () => load('./pcapng.bench')],
  ['pcapngStream', () => load('./pcapngStream.bench')],
  ['journalQuery', () => load('./journalQuery.bench')],
  ['traceExport', () => load('./traceExport.bench')],
  ['shmFile', () => load('./shmFile.bench')],
  ['monitor', () => load('./monitor.bench')],
  ['serialBridge', () => load('./serialBridge.bench')],
  ['ringTap', () => load('./ringTap.bench')],
  ['ivshmem', () => load('./ivshmem.bench')],
  ['qtest', () => load('./qtest.bench')],
  ['webFirstResponse', () => load('./webFirstResponse.bench')],
  ['webFirstPaint', () => load('./webFirstPaint.bench')],
  ['traceUi', () => load('./traceUi.bench')],
  ['analysis', () => load('./analysis.bench')],
  ['extcap', () => load('./extcap.bench')],
  ['loopback', () => load('./loopback.bench')],
  ['import', () => load('./import.bench')],
  ['autocomplete', () => load('./autocomplete.bench')],
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
  ['pcapngStream', 'statsPeakRssMB', '<= 300', (v) => v <= 300],
  ['pcapngStream', 'statsVsTshark', '<= 0.6', (v) => v <= 0.6],
  ['pcapngStream', 'exportPeakRssMB', '<= 300', (v) => v <= 300],
  ['pcapngStream', 'exportVsTshark', '<= 0.6', (v) => v <= 0.6],
  ['journalQuery', 'openMs', '<= 2000', (v) => v <= 2000],
  ['journalQuery', 'firstScreenMs', '<= 1000', (v) => v <= 1000],
  ['journalQuery', 'jumpToMiddleMs', '<= 100', (v) => v <= 100],
  ['journalQuery', 'filterAllMs', '<= 4000', (v) => v <= 4000],
  ['journalQuery', 'windowMs', '<= 1000', (v) => v <= 1000],
  ['journalQuery', 'peakRssMB', '<= 400', (v) => v <= 400],
  ['webFirstPaint', 'firstPaintMs', '<= 2000', (v) => v <= 2000],
  ['traceUi', 'liveFrameP95Ms', '<= 33', (v) => v <= 33],
  ['analysis', 'statisticsFillMs', '<= 3000', (v) => v <= 3000],
  ['analysis', 'expertMs', '<= 3000', (v) => v <= 3000],
  ['analysis', 'pageMaxMs', '<= 100', (v) => v <= 100],
  ['analysis', 'zoomStepMaxMs', '<= 100', (v) => v <= 100],
  ['analysis', 'liveFrameP95Ms', '<= 33', (v) => v <= 33],
  ['extcap', 'interfacesMaxMs', '<= 300', (v) => v <= 300],
  ['extcap', 'recordToFifoP99Ms', '<= 100', (v) => v <= 100],
  ['extcap', 'liveRecordToFifoP99Ms', '<= 100', (v) => v <= 100],
  ['loopback', 'responseP99Us', '<= 100', (v) => v <= 100],
  ['ringTap', 'nativeMaxPerSecond', '>= 200000', (v) => v >= 200_000],
  ['ringTap', 'bridge2MbaudPerSecond', '>= 2000', (v) => v >= 2000],
  ['import', 'peakRssMB2M', '< 300', (v) => v < 300],
  ['autocomplete', 'keystrokeP99Ms', '<= 50', (v) => v <= 50],
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
    results[name] = await bench().run();
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
