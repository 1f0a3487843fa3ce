/**
 * The `pci` link: a board behind a PCI function that this process reaches through sysfs
 * (docs/amp-bus.md §5, §7). The function is found by the profile's vendor/device (10ee:9039 QEMU
 * virtio-msg-amp-pci, 10ee:9038 Versal card) or by BDF; its BARs are mapped from `resourceN`
 * (`resourceN_wc` where the profile asks for write-combining and the BAR is prefetchable);
 * memory decoding and bus mastering are switched on in the command register; the doorbell is a
 * register store (with read-back where the profile asks); interrupts come from UIO
 * (uio_pci_generic, INTx only, re-armed by clearing INTx Disable in the command register), and
 * where there are none the link polls and says so in `notices`.
 */
import { join } from 'node:path';

import type { BoardProfile } from '../../../src/api/boardProfile';
import { profileWindows } from '../../../src/boards/bus';
import type { DoorbellIn, DoorbellOut, Link } from '../../../src/bus/link';
import type { AccessWidth, MemoryWindow } from '../../../src/bus/window';
import { hexNum } from '../../../src/util/hex';
import { loadNative, type FdWatch, type NativeAddon, type NativeMapping } from '../../native/index';
import { systemErrorText } from '../systemError';
import { NativeWindow, watchMappings, type MappingGoneError } from './nativeWindow';
import {
  accessHint,
  describeFunction,
  fileSize,
  findPciFunction,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_INTERRUPT_PIN,
  PciConfig,
  resourcePath,
  type PciFunction,
} from './sysfs';
import { ownedLink } from './owned';
import type { PassiveLink } from './passive';
import { ReadOnlyWindow } from '../../../src/roles/monitor/readOnlyWindow';

export interface PciLinkOptions {
  /** Where sysfs is mounted (default /sys); tests pass a generated tree. */
  sysfsRoot?: string;
  /** Where the UIO device nodes are (default /dev). */
  devRoot?: string;
  /** Use this function instead of searching by the profile's vendor/device. */
  bdf?: string;
}

export interface PciLink extends Link {
  readonly fn: PciFunction;
  /** Things the user should know about this link (no interrupts, no write-combining, …). */
  readonly notices: readonly string[];
  /** Resolves with why, once a BAR or memory mapping is gone under the session (the device was removed or reset). */
  readonly lost: Promise<string>;
}

export class PciLinkError extends Error {}

type Region = BoardProfile['regions'][number];
type DoorbellInSpec = BoardProfile['doorbellIn'];

/** Listeners of a doorbell-in, called together. */
class Listeners {
  private readonly set = new Set<() => void>();
  add(listener: () => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }
  fire(): void {
    for (const l of this.set) l();
  }
  clear(): void {
    this.set.clear();
  }
}

/** No interrupt: the listeners run every `intervalMs` (the endpoint also polls on its own). */
export class PollDoorbellIn implements DoorbellIn {
  readonly mode = 'poll' as const;
  private readonly listeners = new Listeners();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly intervalMs: number) {}

  subscribe(listener: () => void): () => void {
    const off = this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => this.listeners.fire(), this.intervalMs);
      this.timer.unref();
    }
    return off;
  }

  close(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }
}

/**
 * Interrupts from /dev/uioN: each 4-byte read is the interrupt count (docs/amp-bus.md §7).
 * uio_pci_generic masks INTx in its handler, so the line is re-armed before the listeners drain
 * the queue: an interrupt raised while they drain is then not lost. If the wait fails (the
 * node vanished, the driver was unbound), the link keeps working by polling and says why.
 */
class UioDoorbellIn implements DoorbellIn {
  readonly mode = 'interrupt' as const;
  private readonly listeners = new Listeners();
  private readonly watch: FdWatch;
  private fallback: ReturnType<typeof setInterval> | undefined;

  constructor(addon: NativeAddon, node: string, rearm: () => void, notices: string[], fallbackMs: number) {
    const poll = (why: string): void => {
      if (this.fallback) return;
      notices.push(`${why}; polling every ${fallbackMs} ms instead`);
      this.fallback = setInterval(() => this.listeners.fire(), fallbackMs);
      this.fallback.unref();
    };
    rearm();
    this.watch = addon.watchFile(
      node,
      4,
      () => {
        // Re-arming writes config space; if that fails (device unbound, permissions) the
        // interrupt stays masked, so poll rather than wait for one that cannot come.
        if (!this.fallback) {
          try {
            rearm();
          } catch (e) {
            poll(`re-arming the interrupt through config space failed (${systemErrorText(e)})`);
          }
        }
        this.listeners.fire();
      },
      (message) => poll(`interrupt wait on ${node} stopped (${systemErrorText(message)})`),
    );
  }

  subscribe(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  close(): void {
    this.watch.close();
    clearInterval(this.fallback);
    this.listeners.clear();
  }
}

/** Register stores that ring the peer (`mmio-write`, `mmio-pulse`), after a fence so the message is visible first. */
class MmioDoorbellOut implements DoorbellOut {
  constructor(
    private readonly window: MemoryWindow,
    private readonly offset: number,
    private readonly width: AccessWidth,
    private readonly values: readonly number[],
    private readonly readBack: boolean,
    private readonly delayUs: number,
  ) {}

  async ring(): Promise<void> {
    await this.window.fence();
    for (let i = 0; i < this.values.length; i++) {
      if (i > 0 && this.delayUs > 0) await new Promise((r) => setTimeout(r, Math.ceil(this.delayUs / 1000)));
      await this.window.store(this.offset, this.width, this.values[i]!);
      // A read from the same function flushes the posted write (the Versal card wants it, §5.3).
      if (this.readBack) await this.window.load(this.offset, this.width);
    }
  }
}

function fail(message: string): never {
  throw new PciLinkError(message);
}

/** Resolves a `publish` value: a number, or "$REGION.iova.lo|hi" / "$dataMemory.iova.lo|hi" (docs/amp-bus.md §11). */
export function publishValue(profile: BoardProfile, value: number | string, field: string): number {
  if (typeof value === 'number') return value;
  const m = /^\$([A-Za-z0-9_-]+)\.iova\.(lo|hi)$/.exec(value);
  const base = m
    ? m[1] === 'dataMemory'
      ? profile.dataMemory.peerBase
      : profile.regions.find((r) => r.name === m[1])?.peerAddress
    : undefined;
  if (!m || base === undefined) {
    fail(`${field}: expected a number or "$REGION.iova.lo|hi" naming a region with a peerAddress (or dataMemory), saw ${JSON.stringify(value)}`);
  }
  return Number(m[2] === 'lo' ? base & 0xffffffffn : (base >> 32n) & 0xffffffffn);
}

interface Mapped {
  window: MemoryWindow;
  mapping: NativeMapping;
}

function mapRegion(addon: NativeAddon, fn: PciFunction, region: Region, notices: string[], onGone: (e: MappingGoneError) => void, readOnly = false): Mapped {
  const src = region.source;
  let path: string;
  let offset = 0;
  if ('sysfsResource' in src) {
    const wanted = src.wc === true || region.mapping === 'wc';
    const res = resourcePath(fn, src.sysfsResource, wanted);
    if (!res) fail(`region "${region.name}": ${fn.bdf} has no BAR ${src.sysfsResource} (no ${join(fn.dir, `resource${src.sysfsResource}`)})`);
    if (wanted && !res.wc) notices.push(`region "${region.name}": BAR ${src.sysfsResource} offers no write-combined mapping (not prefetchable); mapped uncached`);
    path = res.path;
    const size = fileSize(path);
    if (size < region.size) {
      fail(`region "${region.name}": BAR ${src.sysfsResource} of ${fn.bdf} is ${hexNum(size)} bytes, the profile needs ${hexNum(region.size)}: wrong device or firmware, or a wrong profile`);
    }
  } else if ('file' in src) {
    path = src.file;
    offset = src.offset ?? 0;
  } else {
    fail(`region "${region.name}": source ${JSON.stringify(Object.keys(src)[0])} cannot be reached over the pci link; expected sysfsResource or file`);
  }
  let mapping: NativeMapping;
  try {
    mapping = addon.map(path, offset, region.size, readOnly ? { readOnly } : {});
  } catch (e) {
    fail(`region "${region.name}": cannot map ${hexNum(region.size)} bytes of ${path} at ${hexNum(offset)}: ${accessHint(e)}`);
  }
  return { mapping, window: new NativeWindow(mapping, 0, mapping.size, onGone) };
}

type ClosableDoorbellIn = DoorbellIn & { close(): void };

/** Walks the profile's doorbell-in chain to the first kind this host can deliver. */
function openDoorbellIn(
  addon: NativeAddon,
  fn: PciFunction,
  config: PciConfig,
  spec: DoorbellInSpec,
  devRoot: string,
  notices: string[],
): ClosableDoorbellIn {
  const pollMs = (s: DoorbellInSpec | undefined): number => {
    for (let x = s; x; x = x.fallback) if (x.kind === 'poll' && x.pollIntervalMs !== undefined) return x.pollIntervalMs;
    return 1;
  };
  const fallBack = (why: string, s: DoorbellInSpec): ClosableDoorbellIn => {
    if (s.fallback) {
      notices.push(`${why}; using the profile's fallback "${s.fallback.kind}"`);
      return openDoorbellIn(addon, fn, config, s.fallback, devRoot, notices);
    }
    notices.push(`${why}; polling every ${pollMs(s)} ms`);
    return new PollDoorbellIn(pollMs(s));
  };
  switch (spec.kind) {
    case 'poll':
      return new PollDoorbellIn(spec.pollIntervalMs ?? 1);
    case 'uio': {
      if (spec.rearm === 'uio-write-1') fail('doorbellIn.rearm: "uio-write-1" is for uio_pdrv_genirq; uio_pci_generic has no irqcontrol, use "pci-cmd-intx"');
      if (config.read(PCI_INTERRUPT_PIN, 8) === 0) return fallBack(`${fn.bdf} has no INTx pin, so uio_pci_generic can deliver no interrupts (docs/amp-bus.md §7)`, spec);
      if (!fn.uio) {
        const id = `${fn.vendor.toString(16)} ${fn.device.toString(16)}`;
        const why = `${fn.bdf} is not bound to a UIO driver (no ${join(fn.dir, 'uio')}); to take interrupts: modprobe uio_pci_generic && echo "${id}" > /sys/bus/pci/drivers/uio_pci_generic/new_id`;
        return fallBack(why, spec);
      }
      const rearm = spec.rearm === 'none' ? () => undefined : () => void config.updateCommand(0, PCI_COMMAND_INTX_DISABLE);
      return new UioDoorbellIn(addon, join(devRoot, fn.uio), rearm, notices, pollMs(spec.fallback));
    }
    case 'vfio-msix':
    case 'vfio-intx':
      return fallBack(`doorbellIn "${spec.kind}" needs VFIO, which the pci link does not drive`, spec);
    default:
      return fail(`doorbellIn.kind: "${spec.kind}" is not a PCI interrupt; expected "uio", "poll" or "vfio-msix"/"vfio-intx" with a fallback`);
  }
}

export function openDoorbellOut(profile: BoardProfile, windows: Map<string, MemoryWindow>): DoorbellOut {
  const d = profile.doorbellOut;
  if (d.kind !== 'mmio-write' && d.kind !== 'mmio-pulse') fail(`doorbellOut.kind: "${d.kind}" is not a register store; expected "mmio-write" or "mmio-pulse"`);
  const window = d.region === undefined ? undefined : windows.get(d.region);
  if (!window || d.offset === undefined) fail('doorbellOut: a register doorbell needs region and offset');
  const width = d.width ?? 32;
  if (width === 64) fail('doorbellOut.width: 64-bit doorbells are not supported; expected 8, 16 or 32');
  const values = d.kind === 'mmio-pulse' ? (d.pulse?.values ?? []) : [d.value ?? 1];
  if (values.length === 0) fail('doorbellOut.pulse.values: an mmio-pulse doorbell needs at least one value');
  return new MmioDoorbellOut(window, d.offset, width, values, d.readBack === true, d.pulse?.delayUs ?? 0);
}

/** Opens the PCI function the profile describes as a Link. Errors are PciLinkError with what to try. */
/** The profile's PCI function (by vendor/device or BDF) and the addon that maps its BARs. */
function functionAndAddon(profile: BoardProfile, sysfsRoot: string, bdf: string | undefined): { fn: PciFunction; addon: NativeAddon } {
  const found = findPciFunction(sysfsRoot, { vendor: profile.pci?.vendor, device: profile.pci?.device, bdf: bdf ?? profile.pci?.bdf });
  if (!found.ok) fail(`board ${profile.id}: ${found.error}`);
  const native = loadNative();
  if (!native.ok) fail(`the pci link needs the native addon: ${native.error}`);
  return { fn: found.value, addon: native.value };
}

export async function openPciLink(profile: BoardProfile, opts: PciLinkOptions = {}): Promise<PciLink> {
  const sysfsRoot = opts.sysfsRoot ?? '/sys';
  const devRoot = opts.devRoot ?? '/dev';
  if (profile.access.kind !== 'sysfs-pci' && profile.access.kind !== 'uio') {
    fail(`board ${profile.id}: access.kind "${profile.access.kind}" is not reached through sysfs; the pci link takes "sysfs-pci" or "uio"`);
  }
  const { fn, addon } = functionAndAddon(profile, sysfsRoot, opts.bdf);
  const notices: string[] = [];
  const config = new PciConfig(join(fn.dir, 'config'));

  const set = (profile.pci?.enableMemory === false ? 0 : PCI_COMMAND_MEMORY) | (profile.pci?.enableBusMaster === false ? 0 : PCI_COMMAND_MASTER);
  config.updateCommand(set, 0);

  const mapped: Mapped[] = [];
  const { onGone, lost } = watchMappings();
  const doorbells: { close(): void }[] = [];
  const closeAll = () => {
    for (const d of doorbells) d.close();
    for (const m of mapped) m.mapping.unmap();
  };
  return ownedLink(closeAll, async () => {
    const windows = new Map<string, MemoryWindow>();
    for (const region of profile.regions) {
      const m = mapRegion(addon, fn, region, notices, onGone);
      mapped.push(m);
      windows.set(region.name, m.window);
    }
    for (const [i, w] of (profile.publish ?? []).entries()) {
      const target = windows.get(w.region);
      if (!target) fail(`publish[${i}].region: expected one of the regions (${[...windows.keys()].join(', ')}), saw "${w.region}"`);
      if (w.width === 64) fail(`publish[${i}].width: 64-bit stores are not supported; split into lo/hi words`);
      await target.store(w.offset, w.width, publishValue(profile, w.value, `publish[${i}].value`));
    }
    const doorbellOut = openDoorbellOut(profile, windows);
    const doorbell = openDoorbellIn(addon, fn, config, profile.doorbellIn, devRoot, notices);
    doorbells.push(doorbell);
    return {
      description: `${profile.id} at PCI ${describeFunction(fn)}${doorbell.mode === 'poll' ? ', polling' : ', UIO interrupts'}`,
      fn,
      notices,
      ...profileWindows(profile, (name) => windows.get(name)!),
      doorbellOut,
      doorbellIn: doorbell,
      lost,
    };
  });
}

/**
 * The pci link of a passive monitor (docs/amp-bus.md §4.6): the function found as for the driver,
 * every region mapped read-only; the command register, the publish stores and the doorbells are
 * the board's own driver's (no UIO node is opened, so its interrupt stays the driver's). Where
 * the profile's `monitor.busAddress` says where that driver publishes the address of the queue
 * area it allocated in host memory, the bus area is that memory, read-only through
 * `monitor.memFile` (default /dev/mem).
 */
export async function openPciWatch(profile: BoardProfile, opts: PciLinkOptions = {}): Promise<PassiveLink> {
  const { fn, addon } = functionAndAddon(profile, opts.sysfsRoot ?? '/sys', opts.bdf);
  const notices: string[] = [];
  const { onGone, lost } = watchMappings();
  const mapped: Mapped[] = [];
  const unmapAll = () => {
    for (const m of mapped) m.mapping.unmap();
  };
  try {
    const at = profile.monitor?.busAddress;
    const windows = new Map<string, MemoryWindow>();
    let busMapping: NativeMapping | undefined;
    for (const region of profile.regions) {
      // The bus region is where the driver published it, not where the profile's own driver would put it.
      if (at && region.name === profile.bus.region) continue;
      const m = mapRegion(addon, fn, region, notices, onGone, true);
      mapped.push(m);
      windows.set(region.name, m.window);
      if (region.name === profile.bus.region) busMapping = m.mapping;
    }
    if (at) {
      const words = windows.get(at.region)!;
      const lo = await words.load(at.lo, 32);
      const hi = at.hi === undefined ? 0 : await words.load(at.hi, 32);
      const address = hi * 2 ** 32 + lo;
      const where = `${at.region}+${hexNum(at.lo)}${at.hi === undefined ? '' : `/${hexNum(at.hi)}`}`;
      if (address === 0) fail(`board ${profile.id}: the driver has not published its queue address yet (${where} reads 0); start the monitor after the board's driver has loaded`);
      const memFile = profile.monitor?.memFile ?? '/dev/mem';
      // Mapped as the bus region would be: bus.offset bytes before the queue area.
      const { offset, size } = profile.bus;
      let mapping: NativeMapping;
      try {
        mapping = addon.map(memFile, address - offset, offset + size, { readOnly: true });
      } catch (e) {
        fail(`board ${profile.id}: cannot map the queue area the driver published at ${hexNum(address)} (${where}) in ${memFile}: ${systemErrorText(e)}`);
      }
      const window = new NativeWindow(mapping, 0, mapping.size, onGone);
      mapped.push({ mapping, window });
      busMapping = mapping;
      windows.set(profile.bus.region, window);
      notices.push(`queue area at ${hexNum(address)} in host memory, as the driver published it in ${where}`);
    }
    const { busWindow, dataWindow, dataPeerBase } = profileWindows(profile, (name) => windows.get(name)!);
    return {
      description: `${profile.id} at PCI ${describeFunction(fn)} (read-only; doorbells and interrupts left to the board's driver)`,
      busWindow: new ReadOnlyWindow(busWindow, `the bus area of ${profile.id}`),
      dataWindow: new ReadOnlyWindow(dataWindow, `the data memory of ${profile.id}`),
      dataPeerBase,
      notices,
      lost,
      // Both ways the bus region is mapped from its start, bus.offset bytes before the rings.
      tapSource: { kind: 'mapped', mapping: busMapping!, base: profile.bus.offset },
      close() {
        unmapAll();
        return Promise.resolve();
      },
    };
  } catch (e) {
    unmapAll();
    throw e;
  }
}
