/**
 * Child process playing the board behind a fake PCI function (test/host/fakeSysfs.ts): the
 * simulated device side (src/sim/board.ts) over the same BAR1 resource file and data file the
 * workbench maps, plus what QEMU and the kernel would do around it:
 * - NOTIFY[0] (BAR0+0x20) is the doorbell in: a store of 1 is seen, cleared, and the queue drained;
 * - the doorbell out is INTx as uio_pci_generic handles it: if INTx Disable (command bit 10) is
 *   clear, set it and write the next u32 count into the FIFO standing in for /dev/uioN;
 *   otherwise the interrupt stays pending until user space clears the bit (docs/amp-bus.md §7).
 * Started with fork(); argv[2] is the JSON of FakeDeviceArgs; sends 'ready' or { error }.
 */
import { parseBoardProfile } from '../../src/api/boardProfile';
import type { DoorbellIn, DoorbellOut } from '../../src/bus/link';
import { SubWindow } from '../../src/bus/window';
import { startSimBoard } from '../../src/sim/board';
import { NativeWindow } from '../../main/host/links/nativeWindow';
import { PCI_COMMAND_INTX_DISABLE, PciConfig, PCI_COMMAND } from '../../main/host/links/sysfs';
import { nodeRuntime } from '../../main/host/runtime';
import { loadNative } from '../../main/native/index';
import { openUioFeeder } from './fakeSysfs';
import { errorText } from '../../src/util/errorText';

export interface FakeDeviceArgs {
  profile: unknown;
  bar0: string;
  bar1: string;
  data: string;
  config: string;
  uioFifo?: string;
}

const NOTIFY0 = 0x20;
const TICK_MS = 1;

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as FakeDeviceArgs;
  const parsed = parseBoardProfile(args.profile);
  if (!parsed.ok) throw new Error(`profile: ${JSON.stringify(parsed.error)}`);
  const profile = parsed.value;
  const native = loadNative();
  if (!native.ok) throw new Error(native.error);
  const addon = native.value;
  const bar1Region = profile.regions.find((r) => r.name === profile.bus.region)!;
  const bar0 = new NativeWindow(addon.map(args.bar0, 0, 0x4000));
  const bar1 = new NativeWindow(addon.map(args.bar1, 0, bar1Region.size));
  const data = new NativeWindow(addon.map(args.data, 0, profile.dataMemory.size));
  const config = new PciConfig(args.config);

  const listeners = new Set<() => void>();
  const doorbellIn: DoorbellIn = {
    mode: 'interrupt',
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const feeder = args.uioFifo ? openUioFeeder(args.uioFifo) : undefined;
  let count = 0;
  let pending = false;
  const deliver = () => {
    if (!feeder) return;
    const cmd = config.read(PCI_COMMAND, 16);
    if (cmd & PCI_COMMAND_INTX_DISABLE) {
      pending = true;
      return;
    }
    pending = false;
    config.write16(PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE);
    feeder.raise(++count);
  };
  const doorbellOut: DoorbellOut = {
    ring: () => {
      deliver();
      return Promise.resolve();
    },
  };
  setInterval(() => {
    void (async () => {
      if ((await bar0.load(NOTIFY0, 32)) !== 0) {
        await bar0.store(NOTIFY0, 32, 0);
        for (const l of listeners) l();
      }
      if (pending) deliver();
    })();
  }, TICK_MS);

  const started = await startSimBoard({
    profile,
    busWindow: new SubWindow(bar1, profile.bus.offset, profile.bus.size),
    dataWindow: data,
    doorbellIn,
    doorbellOut,
    runtime: nodeRuntime,
    log: (m) => process.send?.({ log: m }),
  });
  if (!started.ok) throw new Error(started.error);
  process.send?.('ready');
}

main().catch((e: unknown) => {
  process.send?.({ error: errorText(e) });
  process.exit(1);
});
