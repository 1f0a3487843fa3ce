/**
 * PCI devices as Linux shows them in sysfs (docs/amp-bus.md §7): finding a function by vendor/device
 * or by BDF, its BAR resource files, its UIO node, and read-modify-write of its command register
 * through the binary `config` file. The sysfs root is a parameter so tests run against a
 * generated tree (test/host/fakeSysfs.ts).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';

import { errnoCode, systemErrorText } from '../systemError';
import type { Result } from '../../../src/util/result';


/** PCI command register (config offset 0x04) bits, PCI Local Bus spec §6.2.2. */
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_MEMORY = 1 << 1;
export const PCI_COMMAND_MASTER = 1 << 2;
/** Set by uio_pci_generic's handler; user space clears it to take the next interrupt (§7). */
export const PCI_COMMAND_INTX_DISABLE = 1 << 10;
/** Interrupt Pin (config offset 0x3D): 0 = the function has no INTx. */
export const PCI_INTERRUPT_PIN = 0x3d;

export interface PciFunction {
  /** e.g. "0000:01:00.0". */
  bdf: string;
  /** The function's sysfs directory. */
  dir: string;
  vendor: number;
  device: number;
  /** 24-bit class code. */
  classCode: number;
  /** Name of the bound driver, if any. */
  driver?: string;
  /** UIO node name ("uio0") when a UIO driver (uio_pci_generic) is bound. */
  uio?: string;
}

export const BDF_PATTERN = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** A vendor or device id as lspci prints it. */
const id4 = (n: number): string => n.toString(16).padStart(4, '0');

export function describeFunction(f: PciFunction): string {
  return `${f.bdf} ${id4(f.vendor)}:${id4(f.device)} class ${f.classCode.toString(16).padStart(6, '0')}${f.driver ? ` (driver ${f.driver})` : ''}`;
}

function readHexFile(path: string): number | undefined {
  try {
    const v = Number.parseInt(readFileSync(path, 'utf8').trim(), 16);
    return Number.isNaN(v) ? undefined : v;
  } catch {
    return undefined;
  }
}

function devicesDir(sysfsRoot: string): string {
  return join(sysfsRoot, 'bus', 'pci', 'devices');
}

function readFunction(sysfsRoot: string, bdf: string): PciFunction | undefined {
  const dir = join(devicesDir(sysfsRoot), bdf);
  const vendor = readHexFile(join(dir, 'vendor'));
  const device = readHexFile(join(dir, 'device'));
  if (vendor === undefined || device === undefined) return undefined;
  const f: PciFunction = { bdf, dir, vendor, device, classCode: readHexFile(join(dir, 'class')) ?? 0 };
  try {
    // `driver` links to /sys/bus/pci/drivers/NAME.
    f.driver = basename(readlinkSync(join(dir, 'driver')));
  } catch {
    // no driver bound
  }
  const uioDir = join(dir, 'uio');
  if (existsSync(uioDir)) {
    const node = readdirSync(uioDir).find((n) => /^uio\d+$/.test(n));
    if (node) f.uio = node;
  }
  return f;
}

export function listPciFunctions(sysfsRoot: string): PciFunction[] {
  let names: string[];
  try {
    names = readdirSync(devicesDir(sysfsRoot));
  } catch {
    return [];
  }
  return names
    .filter((n) => BDF_PATTERN.test(n))
    .sort()
    .flatMap((n) => readFunction(sysfsRoot, n) ?? []);
}

export interface PciMatch {
  vendor?: number | undefined;
  device?: number | undefined;
  bdf?: string | undefined;
}

export type FindResult = Result<PciFunction>;

/**
 * The one function that matches: by BDF if given (and then its ids must agree with the profile),
 * else by vendor/device. The error lists what the bus does have, so a wrong id or a missing
 * `modprobe` shows at once.
 */
export function findPciFunction(sysfsRoot: string, want: PciMatch): FindResult {
  return pickPciFunction(listPciFunctions(sysfsRoot), want, `${devicesDir(sysfsRoot)} lists no PCI functions`);
}

/** The matching rules of findPciFunction over functions found some other way (a qtest config-space scan). */
export function pickPciFunction(all: readonly PciFunction[], want: PciMatch, noneFound: string): FindResult {
  const seen = all.length ? `; found: ${all.map(describeFunction).join(', ')}` : `; ${noneFound}`;
  const ids = `${want.vendor !== undefined ? id4(want.vendor) : '*'}:${want.device !== undefined ? id4(want.device) : '*'}`;
  if (want.bdf !== undefined) {
    if (!BDF_PATTERN.test(want.bdf)) return { ok: false, error: `expected a PCI address like 0000:01:00.0, saw "${want.bdf}"` };
    const fn = all.find((f) => f.bdf === want.bdf);
    if (!fn) return { ok: false, error: `no PCI function ${want.bdf}${seen}` };
    if ((want.vendor !== undefined && fn.vendor !== want.vendor) || (want.device !== undefined && fn.device !== want.device)) {
      return { ok: false, error: `PCI function ${want.bdf} is ${describeFunction(fn)}, but the profile expects ${ids}` };
    }
    return { ok: true, value: fn };
  }
  const matches = all.filter((f) => (want.vendor === undefined || f.vendor === want.vendor) && (want.device === undefined || f.device === want.device));
  if (matches.length === 1) return { ok: true, value: matches[0]! };
  if (matches.length === 0) return { ok: false, error: `no PCI device ${ids}${seen}` };
  return { ok: false, error: `${matches.length} PCI devices ${ids} (${matches.map((f) => f.bdf).join(', ')}): choose one with pci:BDF` };
}

/** A failure on sysfs and /dev files in words, with what to do about EACCES/EPERM. */
export function accessHint(e: unknown): string {
  const code = errnoCode(e);
  const text = systemErrorText(e);
  return code === 'EACCES' || code === 'EPERM' ? `${text}; run as root, or give this user access to the device's sysfs files and bind uio_pci_generic` : text;
}

/** The function's configuration space through sysfs `config` (reads up to 64 bytes need no root). */
export class PciConfig {
  constructor(readonly path: string) {}

  read(offset: number, width: 8 | 16): number {
    const buf = Buffer.alloc(width / 8);
    const fd = this.open('r');
    try {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n !== buf.length) throw new Error(`${this.path}: read ${n} of ${buf.length} bytes at config offset 0x${offset.toString(16)} (is the file shorter than the config space?)`);
    } finally {
      closeSync(fd);
    }
    return width === 8 ? buf.readUInt8(0) : buf.readUInt16LE(0);
  }

  write16(offset: number, value: number): void {
    const buf = Buffer.alloc(2);
    buf.writeUInt16LE(value, 0);
    const fd = this.open('r+');
    try {
      const n = writeSync(fd, buf, 0, 2, offset);
      if (n !== 2) throw new Error(`${this.path}: wrote ${n} of 2 bytes at config offset 0x${offset.toString(16)}`);
    } finally {
      closeSync(fd);
    }
  }

  /** Read-modify-write of the command register; writes only when a bit changes. Returns the new value. */
  updateCommand(set: number, clear: number): number {
    const old = this.read(PCI_COMMAND, 16);
    const next = ((old | set) & ~clear) & 0xffff;
    if (next !== old) this.write16(PCI_COMMAND, next);
    return next;
  }

  private open(flags: 'r' | 'r+'): number {
    try {
      return openSync(this.path, flags);
    } catch (e) {
      throw new Error(`cannot open ${this.path}: ${accessHint(e)}`);
    }
  }
}

/** The path of BAR `index`'s resource file, preferring `resourceN_wc` when asked and offered. */
export function resourcePath(fn: PciFunction, index: number, writeCombine: boolean): { path: string; wc: boolean } | undefined {
  const wcPath = join(fn.dir, `resource${index}_wc`);
  if (writeCombine && existsSync(wcPath)) return { path: wcPath, wc: true };
  const path = join(fn.dir, `resource${index}`);
  return existsSync(path) ? { path, wc: false } : undefined;
}

export function fileSize(path: string): number {
  return statSync(path).size;
}
