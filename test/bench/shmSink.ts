/**
 * Device side of the cross-process throughput benchmark (shmFile.bench.ts), in its own process:
 * the board side of a shm file for sim-qemu-amp-pci without device models, draining every
 * message through a bus endpoint and publishing the count of events as a u32 at offset 0 of
 * the data memory. Arguments: FILE socket|poll. Prints "ready" once the layout is written.
 */
import { findBuiltinProfile } from '../../src/boards/builtin';
import { attachProfileBus } from '../../src/boards/bus';
import { nodeRuntime } from '../../main/host/runtime';
import { openShmBoardSide } from '../../main/host/sim/shmBoard';
import { errorText } from '../../src/util/errorText';

async function main(): Promise<void> {
  const [filePath, doorbells] = process.argv.slice(2);
  const profile = findBuiltinProfile('sim-qemu-amp-pci')!;
  const side = await openShmBoardSide(profile, filePath!, { doorbells: doorbells === 'poll' ? 'poll' : 'socket' });
  const ends = { busWindow: side.shm.busWindow, doorbellOut: side.doorbells.doorbellOut, doorbellIn: side.doorbells.doorbellIn };
  const bus = await attachProfileBus(profile, 'device', ends, {
    runtime: nodeRuntime,
    pollMs: 1,
    defaultTimeoutMs: 60_000,
    onStage: (stage) => stage === 'layout-written' && process.stdout.write('ready\n'),
  });
  if (!bus.ok) throw new Error(bus.error);
  let count = 0;
  bus.value.endpoint.onEvent('any', () => void side.shm.dataWindow.store(0, 32, ++count));
  process.on('SIGTERM', () => {
    bus.value.endpoint.close();
    side.close();
    process.exit(0);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`shm sink: ${errorText(e)}\n`);
  process.exit(1);
});
