/**
 * Built-in board profiles, kept as profile files (src/boards/profiles/*.json) so that users can
 * copy one as the start of their own. Simulated boards mirror the real set-ups of amp-bus.md §6
 * and §11: the same queue format, message revision, window sizes and data-memory addresses, with
 * the device side played by src/sim in a worker thread.
 */
import { parseBoardProfile, type BoardProfile } from '../api/boardProfile';
import simQemuAmpPci from './profiles/sim-qemu-amp-pci.json';
import simStm32mp157 from './profiles/sim-stm32mp157.json';
import simVersal from './profiles/sim-versal.json';

export const DEFAULT_BOARD = 'sim-qemu-amp-pci';

function load(raw: unknown): BoardProfile {
  const r = parseBoardProfile(raw);
  if (!r.ok) throw new Error(`built-in profile invalid: ${r.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
  return r.profile;
}

export const BUILTIN_PROFILES: readonly BoardProfile[] = [simQemuAmpPci, simVersal, simStm32mp157].map(load);

export function findBuiltinProfile(id: string): BoardProfile | undefined {
  return BUILTIN_PROFILES.find((p) => p.id === id);
}
