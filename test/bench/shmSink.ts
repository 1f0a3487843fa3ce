/**
 * Device side of the cross-process throughput benchmark (shmFile.bench.ts), in its own process:
 * the board side of a shm file for sim-qemu-amp-pci without device models, draining every
 * message through a bus endpoint and publishing the count of events as a u32 at offset 0 of
 * the data memory. Arguments: FILE socket|poll [echo [BURST]]. With `echo` it answers every
 * event with an EVENT_USED (at most BURST per turn of its event loop), so both rings carry traffic (monitor.bench.ts), and publishes
 * the count sent as a u32 at offset 4. Prints "ready" once the layout is written.
 */
import { findBuiltinProfile } from '../../src/boards/builtin';
import { attachProfileBus } from '../../src/boards/bus';
import { nodeRuntime } from '../../main/host/runtime';
import { openShmBoardSide } from '../../main/host/sim/shmBoard';
import { encode } from '../../src/protocol/index';
import { errorText } from '../../src/util/errorText';

async function main(): Promise<void> {
  const [filePath, doorbells, mode, burst] = process.argv.slice(2);
  const perTurn = Number(burst ?? 64);
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
  let echoed = 0;
  let owed = 0;
  const used = encode('r4', { name: 'EVENT_USED', kind: 'event', devNum: 1, fields: { vq_index: 0 } });
  const { endpoint } = bus.value;
  /** Answers the events drained so far, at most `perTurn` per turn of the event loop (as the driver sends them). */
  const echo = async (): Promise<void> => {
    const r = await endpoint.sendBatch(Array.from({ length: Math.min(owed, perTurn) }, () => used));
    if (!r.ok) throw new Error(r.error.message);
    owed -= r.sent;
    echoed += r.sent;
    await side.shm.dataWindow.store(4, 32, echoed);
  };
  let echoing = false;
  const schedule = (): void => {
    if (echoing) return;
    echoing = true;
    setImmediate(() =>
      void echo().then(() => {
        echoing = false;
        if (owed > 0) schedule();
      }),
    );
  };
  endpoint.onEvent('any', () => {
    void side.shm.dataWindow.store(0, 32, ++count);
    if (mode !== 'echo') return;
    owed++;
    schedule();
  });
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
