/**
 * A generated sysfs + /dev tree with PCI functions in it (docs/amp-bus.md §12 item 4): per function
 * vendor/device/class files, a 256-byte `config`, BARs as sparse `resourceN` files of the BAR
 * size (plus `resourceN_wc` for prefetchable BARs, which the kernel offers only there), a
 * `resource` table, and for a UIO-bound function `uio/uioN` with a FIFO standing in for
 * /dev/uioN: writing a 4-byte count into it raises an "interrupt".
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeBar {
  index: number;
  size: number;
  prefetchable?: boolean;
}

export interface FakePciSpec {
  bdf: string;
  vendor: number;
  device: number;
  classCode?: number;
  bars: FakeBar[];
  /** Config 0x3D; 0 = no INTx (virtio-msg-amp-pci). Default 1 (INTA#). */
  interruptPin?: number;
  /** Initial command register. */
  command?: number;
  /** Bind "uio_pci_generic" with this UIO node (e.g. "uio0"). */
  uio?: string;
}

export interface FakeFunction {
  dir: string;
  config: string;
  resource(index: number, wc?: boolean): string;
  /** The FIFO standing in for /dev/uioN. */
  uioNode?: string;
}

export interface FakeSysfs {
  root: string;
  sysfsRoot: string;
  devRoot: string;
  fns: Map<string, FakeFunction>;
  remove(): void;
}

const IORESOURCE_MEM = 0x200;
const IORESOURCE_PREFETCH = 0x2000;

function hexLine(n: number): string {
  return '0x' + n.toString(16).padStart(16, '0');
}

export function makeFakeSysfs(specs: FakePciSpec[]): FakeSysfs {
  const root = mkdtempSync(join(tmpdir(), 'fake-sysfs-'));
  const sysfsRoot = join(root, 'sys');
  const devRoot = join(root, 'dev');
  const devices = join(sysfsRoot, 'bus', 'pci', 'devices');
  const drivers = join(sysfsRoot, 'bus', 'pci', 'drivers');
  mkdirSync(devices, { recursive: true });
  mkdirSync(devRoot, { recursive: true });
  const fns = new Map<string, FakeFunction>();
  let nextAddress = 0xfe000000;
  for (const spec of specs) {
    const dir = join(devices, spec.bdf);
    mkdirSync(dir);
    const classCode = spec.classCode ?? 0x088000;
    writeFileSync(join(dir, 'vendor'), `0x${spec.vendor.toString(16).padStart(4, '0')}\n`);
    writeFileSync(join(dir, 'device'), `0x${spec.device.toString(16).padStart(4, '0')}\n`);
    writeFileSync(join(dir, 'class'), `0x${classCode.toString(16).padStart(6, '0')}\n`);

    const config = Buffer.alloc(256);
    config.writeUInt16LE(spec.vendor, 0x00);
    config.writeUInt16LE(spec.device, 0x02);
    config.writeUInt16LE(spec.command ?? 0, 0x04);
    config.writeUInt8(1, 0x08); // revision
    config.writeUIntLE(classCode, 0x09, 3);
    config.writeUInt8(spec.interruptPin ?? 1, 0x3d);

    const table: string[] = [];
    for (let i = 0; i < 13; i++) {
      const bar = spec.bars.find((b) => b.index === i);
      if (!bar) {
        table.push(`${hexLine(0)} ${hexLine(0)} ${hexLine(0)}`);
        continue;
      }
      const flags = IORESOURCE_MEM | (bar.prefetchable ? IORESOURCE_PREFETCH : 0);
      table.push(`${hexLine(nextAddress)} ${hexLine(nextAddress + bar.size - 1)} ${hexLine(flags)}`);
      config.writeUInt32LE((nextAddress | (bar.prefetchable ? 0x8 : 0)) >>> 0, 0x10 + 4 * i);
      nextAddress += Math.max(bar.size, 0x1000);
      const file = join(dir, `resource${i}`);
      writeFileSync(file, '');
      truncateSync(file, bar.size);
      // The kernel offers _wc only for prefetchable BARs, as the same memory.
      if (bar.prefetchable) symlinkSync(file, join(dir, `resource${i}_wc`));
    }
    writeFileSync(join(dir, 'resource'), table.join('\n') + '\n');
    writeFileSync(join(dir, 'config'), config);

    const fn: FakeFunction = {
      dir,
      config: join(dir, 'config'),
      resource: (index, wc = false) => join(dir, `resource${index}${wc ? '_wc' : ''}`),
    };
    if (spec.uio) {
      mkdirSync(join(drivers, 'uio_pci_generic'), { recursive: true });
      symlinkSync(join(drivers, 'uio_pci_generic'), join(dir, 'driver'));
      mkdirSync(join(dir, 'uio', spec.uio), { recursive: true });
      writeFileSync(join(dir, 'uio', spec.uio, 'name'), 'uio_pci_generic\n');
      fn.uioNode = join(devRoot, spec.uio);
      execFileSync('mkfifo', [fn.uioNode]);
    }
    fns.set(spec.bdf, fn);
  }
  return { root, sysfsRoot, devRoot, fns, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Reads `width` bits at `offset` of a file (config space or a BAR) as the device sees it. */
export function readFileWord(path: string, offset: number, width: 8 | 16 | 32): number {
  const buf = Buffer.alloc(width / 8);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  return buf.readUIntLE(0, buf.length);
}

export function writeFileWord(path: string, offset: number, width: 8 | 16 | 32, value: number): void {
  const buf = Buffer.alloc(width / 8);
  buf.writeUIntLE(value, 0, buf.length);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * The "kernel" end of a UIO node: opened read-write so it never blocks on the FIFO's other end.
 * `raise(count)` writes the u32 interrupt count, as read() on /dev/uioN returns it.
 */
export function openUioFeeder(fifo: string): { raise(count: number): void; close(): void } {
  const fd = openSync(fifo, 'r+');
  return {
    raise(count) {
      const buf = Buffer.alloc(4);
      buf.writeUInt32LE(count >>> 0, 0);
      writeSync(fd, buf);
    },
    close: () => closeSync(fd),
  };
}
