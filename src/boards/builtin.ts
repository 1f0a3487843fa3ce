/**
 * Built-in board profiles, kept as profile files (src/boards/profiles/*.json) so that users can
 * copy one as the start of their own. Simulated boards mirror the real set-ups of docs/amp-bus.md §6
 * and §11: the same queue format, message revision, window sizes and data-memory addresses, with
 * the device side played by src/sim in a worker thread.
 */
import { parseBoardProfile, type BoardProfile } from '../api/boardProfile';
import qemuQtestAmpPci from './profiles/qemu-qtest-amp-pci.json';
import qemuVirtioMsgAmpPci from './profiles/qemu-virtio-msg-amp-pci.json';
import simLinuxLoopback from './profiles/sim-linux-loopback.json';
import simQemuAmpPci from './profiles/sim-qemu-amp-pci.json';
import simStm32mp157 from './profiles/sim-stm32mp157.json';
import simVersal from './profiles/sim-versal.json';
import stm32mp157cDk2 from './profiles/stm32mp157c-dk2.json';
import versalVek280 from './profiles/versal-vek280.json';

export const DEFAULT_BOARD = 'sim-qemu-amp-pci';

function load(raw: unknown): BoardProfile {
  const r = parseBoardProfile(raw);
  if (!r.ok) throw new Error(`built-in profile invalid: ${r.error.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
  return r.value;
}

export const BUILTIN_PROFILES: readonly BoardProfile[] = [simQemuAmpPci, simVersal, simStm32mp157, simLinuxLoopback].map(load);

/**
 * Real boards and QEMU (docs/amp-bus.md §11): reached through the pci, serial-bridge or qtest links, so kept apart
 * from the simulated list, which every front end can open anywhere.
 */
export const HARDWARE_PROFILES: readonly BoardProfile[] = [stm32mp157cDk2, versalVek280, qemuVirtioMsgAmpPci, qemuQtestAmpPci].map(load);

export function findBuiltinProfile(id: string): BoardProfile | undefined {
  return BUILTIN_PROFILES.find((p) => p.id === id);
}
