/**
 * npm run bench: runs every benchmark in turn and prints one JSON object per benchmark, then a
 * summary with the issue targets. Timing never decides whether npm test passes; these numbers
 * go into the issue notes.
 */
import { run as bus } from './bus.bench';
import { run as crossThread } from './crossThread.bench';
import { run as decode } from './decode.bench';
import { run as virtqueue } from './virtqueue.bench';

const BENCHES: [string, () => Promise<Record<string, number | string>>][] = [
  ['decode', decode],
  ['bus', bus],
  ['virtqueue', virtqueue],
  ['crossThread', crossThread],
];

async function main(): Promise<void> {
  const only = process.argv.slice(3);
  const results: Record<string, Record<string, number | string>> = {};
  for (const [name, bench] of BENCHES) {
    if (only.length > 0 && !only.includes(name)) continue;
    results[name] = await bench();
    process.stdout.write(JSON.stringify({ bench: name, ...results[name] }) + '\n');
  }
  const ct = results['crossThread'];
  const dec = results['decode'];
  const targets = {
    rttP50Us: ct ? { value: ct['rttP50Us'], target: '<= 20', met: Number(ct['rttP50Us']) <= 20 } : undefined,
    rttP99Us: ct ? { value: ct['rttP99Us'], target: '<= 200', met: Number(ct['rttP99Us']) <= 200 } : undefined,
    throughputPerSecond: ct ? { value: ct['throughputPerSecond'], target: '>= 1000000', met: Number(ct['throughputPerSecond']) >= 1_000_000 } : undefined,
    decodePerSecond: dec ? { value: dec['decodePerSecond'], target: '>= 5000000', met: Number(dec['decodePerSecond']) >= 5_000_000 } : undefined,
  };
  process.stdout.write(JSON.stringify({ bench: 'targets', ...targets }) + '\n');
}

void main();
