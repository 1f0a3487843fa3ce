/**
 * A stand-in for Linux's virtio-msg loopback bus, as its own process, following the RFC's code
 * (docs/linux-loopback.md §1–§3): virtio_msg_loopback.c (one transfer at a time under the bus
 * mutex, a 1 s wait for the answer, only EVENT_USED taken from the device side, msg_size
 * VIRTIO_MSG_MIN_SIZE), virtio_msg_user.c (read hands out the pending message, a write with the
 * response bit completes the transfer — also a late one, which the next transfer then consumes)
 * and virtio_msg.c with the virtio core (the order of a device's bring-up and removal).
 *
 * Owns: a FIFO pair for the message device (DIR/to-device, DIR/to-kernel), a shared-memory file
 * for the vmsglb pool (Node has no memfd_create; a /dev/shm file is the same tmpfs memory), a
 * fake device tree (DIR/dt) and the control socket DIR/ctl.sock taking the ioctls as records.
 *
 * A scripted "kernel" runs on each IOCTL_VMSG_LB_ADD: the bring-up of virtio_msg_register and
 * virtio_dev_probe, then a workload per device type, checking every answer and every used
 * buffer. The JSON argument: { dir, pool, mode: 'bringup' | 'faults' | 'bench', count?, rngSeed?,
 * sessions? (how many serving sessions in turn open the message device; default 1) }. Results
 * are JSON lines on stdout: { event: 'ready' }, { event: 'device', devId, kind, failures, checks },
 * { event: 'faults', failures, checks }, { event: 'bench', … }, { event: 'removed', devId, failures }.
 */
import { mkdirSync, open as openFd, openSync, closeSync, ftruncateSync, writeFileSync, writeSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { execFileSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { constants } from 'node:os';

import { loadNative } from '../../main/native/index';
import { SeededPrng } from '../../src/devices/rng';
import { decode, encode, fieldBytes, fieldNumber as n, fieldWords } from '../../src/protocol/index';
import type { FieldValue } from '../../src/protocol/types';

type Fields = Record<string, FieldValue>;

const cfg = JSON.parse(process.argv.find((a) => a.startsWith('{')) ?? '{}') as { dir: string; pool: string; mode: 'bringup' | 'faults' | 'bench'; count?: number; rngSeed?: number; sessions?: number };
const MIN_SIZE = 44;
const POOL_BASE = 0x1_0000_0000n;
const POOL_SIZE = 4 << 20;
const TIMEOUT_MS = 1000;
const IOCTL_ADD = (4 << 16) | (0x50 << 8) | 0;
const IOCTL_REMOVE = (4 << 16) | (0x50 << 8) | 1;
const STATUS = { ACK: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, NEEDS_RESET: 0x40 };
const VERSION_1 = 1n << 32n;
const KINDS: Record<number, { kind: string; queues: number }> = { 4: { kind: 'rng', queues: 1 }, 34: { kind: 'i2c', queues: 1 }, 3: { kind: 'console', queues: 2 } };

const emit = (o: object): void => void process.stdout.write(JSON.stringify(o, (_, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)) + '\n');

// ---- the fake device tree, the FIFO pair and the pool -----------------------------------------
const dt = join(cfg.dir, 'dt', 'reserved-memory');
const node = join(dt, 'vmsglb@100000000');
mkdirSync(node, { recursive: true });
const be32 = (...v: number[]) => Buffer.concat(v.map((x) => Buffer.from([x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff])));
writeFileSync(join(dt, '#address-cells'), be32(2));
writeFileSync(join(dt, '#size-cells'), be32(2));
writeFileSync(join(node, 'reg'), be32(Number(POOL_BASE >> 32n), Number(POOL_BASE & 0xffffffffn), 0, POOL_SIZE));
const toDevicePath = join(cfg.dir, 'to-device');
const toKernelPath = join(cfg.dir, 'to-kernel');
execFileSync('mkfifo', [toDevicePath, toKernelPath]);
const poolFd = openSync(cfg.pool, 'w+');
ftruncateSync(poolFd, POOL_SIZE);
closeSync(poolFd);
const addon = loadNative();
if (!addon.ok) throw new Error(addon.error);
const pool = addon.value.map(cfg.pool, 0, POOL_SIZE);

const u16 = (off: number) => pool.load(off, 16) as number;
const u32 = (off: number) => pool.load(off, 32) as number;

// ---- virtio_msg_user.c + virtio_msg_loopback.c ------------------------------------------------
const violations: string[] = [];
let completions = 0; // w_completion's count: a response written with nobody waiting stays there
let waiter: ((r: Uint8Array | null) => void) | null = null;
let responseBuf: Uint8Array | null = null;
const devices = new Map<number, { kind: string; queues: Queue[]; used: Map<number, () => void> }>();
/** The request side of the FIFO pair; writes of 44 bytes are atomic and do not block (PIPE_BUF). */
let toDevice = -1;

function onDeviceWrite(msg: Uint8Array): void {
  if (msg[0]! & 1) {
    // virtio_msg_lb_user_handle: copy into the response buffer when there is one; then complete.
    if (responseBuf) responseBuf.set(msg.subarray(0, MIN_SIZE));
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(msg);
    } else {
      completions++;
    }
    return;
  }
  if (msg[0]! & 2 || msg[1] !== 0x42) {
    violations.push(`Unsupported message received: type 0x${msg[0]!.toString(16)} msg_id 0x${msg[1]!.toString(16)}`);
    return;
  }
  const dev = devices.get(msg[2]! | (msg[3]! << 8));
  if (!dev) return;
  const index = new DataView(msg.buffer, msg.byteOffset).getUint32(6, true);
  const cb = dev.used.get(index);
  if (!cb) violations.push(`Failed to find virtqueue (${index})`);
  else cb();
}

/** virtio_msg_lb_transfer: one at a time (the callers await), 1 s for the answer. */
async function transfer(request: Uint8Array, wantResponse: boolean): Promise<{ ok: true; response: Uint8Array } | { ok: false; why: string }> {
  const out = new Uint8Array(MIN_SIZE);
  out.set(request.subarray(0, MIN_SIZE));
  const response = new Uint8Array(MIN_SIZE);
  responseBuf = wantResponse ? response : null;
  if (completions > 0) {
    // A late answer from before completes this transfer at once: the response stays zero.
    completions--;
    responseBuf = null;
    violations.push(`stale completion consumed by msg_id 0x${out[1]!.toString(16)}`);
    return { ok: true, response };
  }
  const done = new Promise<Uint8Array | null>((resolve) => {
    waiter = resolve;
    setTimeout(() => {
      if (waiter === resolve) {
        waiter = null;
        resolve(null);
      }
    }, TIMEOUT_MS);
  });
  writeSync(toDevice, out);
  const r = await done;
  responseBuf = null;
  return r ? { ok: true, response } : { ok: false, why: 'ETIMEDOUT' };
}

// ---- virtio_msg.c and the virtio core: one device's bring-up, checking every answer -----------
type Queue = { index: number; size: number; desc: number; avail: number; used: number; availIdx: number; usedIdx: number };

class Checks {
  failures: string[] = [];
  count = 0;
  expect(cond: boolean, what: string): boolean {
    this.count++;
    if (!cond) this.failures.push(what);
    return cond;
  }
}

async function call(c: Checks, devId: number, name: string, fields: Fields = {}): Promise<Fields | null> {
  const req = encode('r2', { name, kind: 'request', devNum: devId, fields });
  const r = await transfer(req, true);
  if (!c.expect(r.ok, `${name} dev ${devId}: answered within 1 s`)) return null;
  const { msg, problems } = decode((r as { response: Uint8Array }).response, 'r2', { direction: 'device-to-driver' });
  const bad = problems.filter((p) => p.code !== 'trailing-bytes');
  if (!c.expect(msg !== null && msg.kind === 'response' && msg.name === name && msg.devNum === devId && bad.length === 0, `${name} dev ${devId}: a well-formed ${name} response (saw ${msg?.name ?? 'nothing'} ${msg?.kind ?? ''}, ${bad.map((p) => p.reason).join('; ')})`)) return null;
  return msg!.fields;
}

async function setStatus(c: Checks, devId: number, status: number): Promise<number> {
  const r = await call(c, devId, 'SET_DEVICE_STATUS', { status });
  return r ? n(r, 'status') : -1;
}
/** virtio_add_status: read, or in the bit, write. */
async function addStatus(c: Checks, devId: number, bit: number): Promise<void> {
  const cur = await call(c, devId, 'GET_DEVICE_STATUS');
  const now = await setStatus(c, devId, (cur ? n(cur, 'status') : 0) | bit);
  c.expect((now & bit) !== 0, `dev ${devId}: status 0x${bit.toString(16)} kept (saw 0x${now.toString(16)})`);
}

let nextRing = 0x10000;
function placeRing(index: number, size: number): Queue {
  const desc = nextRing;
  const avail = desc + 16 * size;
  const used = Math.ceil((avail + 6 + 2 * size) / 4096) * 4096;
  nextRing = Math.ceil((used + 6 + 8 * size) / 4096) * 4096;
  pool.write(desc, new Uint8Array(used + 6 + 8 * size - desc));
  return { index, size, desc, avail, used, availIdx: 0, usedIdx: 0 };
}

const bufferArea = { next: 0x200000 };
function buffer(len: number): number {
  const at = bufferArea.next;
  bufferArea.next += Math.ceil(len / 64) * 64;
  return at;
}

async function setVqueue(c: Checks, devId: number, q: Queue, desc = POOL_BASE + BigInt(q.desc)): Promise<void> {
  await call(c, devId, 'SET_VQUEUE', { index: q.index, size: q.size, desc_addr: desc, driver_addr: POOL_BASE + BigInt(q.avail), device_addr: POOL_BASE + BigInt(q.used) });
}

async function bringUp(devId: number): Promise<{ c: Checks; kind: string } | { errno: number }> {
  const c = new Checks();
  const info = await call(c, devId, 'GET_DEVICE_INFO');
  if (!info) return { errno: constants.errno.ETIMEDOUT };
  const type = KINDS[n(info, 'device_id')];
  if (!c.expect(type !== undefined && n(info, 'num_feature_bits') === 64, `GET_DEVICE_INFO dev ${devId}: a known device with 64 feature bits`) || !type) return { errno: constants.errno.EINVAL };
  const dev = { kind: type.kind, queues: [] as Queue[], used: new Map<number, () => void>() };
  devices.set(devId, dev);
  c.expect((await setStatus(c, devId, 0)) === 0, `dev ${devId}: reset to status 0`);
  await addStatus(c, devId, STATUS.ACK);
  await addStatus(c, devId, STATUS.DRIVER);
  const feats = await call(c, devId, 'GET_DEVICE_FEATURES', { block_index: 0, num_blocks: 2 });
  const words = feats ? fieldWords(feats, 'features') : [0, 0];
  const offered = (BigInt(words[1]! >>> 0) << 32n) | BigInt(words[0]! >>> 0);
  c.expect((offered & VERSION_1) !== 0n, `dev ${devId}: VIRTIO_F_VERSION_1 offered`);
  await call(c, devId, 'SET_DRIVER_FEATURES', { block_index: 0, num_blocks: 2, features: [Number(offered & 0xffffffffn), Number(offered >> 32n)] });
  await addStatus(c, devId, STATUS.FEATURES_OK);
  const fok = await call(c, devId, 'GET_DEVICE_STATUS');
  c.expect(fok !== null && (n(fok, 'status') & STATUS.FEATURES_OK) !== 0, `dev ${devId}: FEATURES_OK accepted`);
  if (type.kind === 'console' && (offered & 1n) !== 0n) {
    const cfgR = await call(c, devId, 'GET_CONFIG', { offset: 0, length: 4 });
    const bytes = cfgR ? fieldBytes(cfgR, 'data') : new Uint8Array(4);
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    c.expect(bytes.length === 4 && dv.getUint16(0, true) === 80 && dv.getUint16(2, true) === 25, `dev ${devId}: console config cols 80 rows 25`);
  }
  for (let i = 0; i < type.queues; i++) {
    const vq = await call(c, devId, 'GET_VQUEUE', { index: i });
    const max = vq ? n(vq, 'max_size') : 0;
    if (!c.expect(max > 0, `GET_VQUEUE ${i} dev ${devId}: max_size > 0`)) return { errno: constants.errno.ENOENT };
    const q = placeRing(i, max);
    dev.queues.push(q);
    await setVqueue(c, devId, q);
  }
  await addStatus(c, devId, STATUS.DRIVER_OK);
  return { c, kind: type.kind };
}

// ---- the split ring, the driver's half (drivers/virtio/virtio_ring.c, as far as needed) -------
function post(q: Queue, bufs: { addr: bigint; len: number; writable: boolean }[]): number {
  const head = q.availIdx % q.size;
  bufs.forEach((b, j) => {
    const d = q.desc + 16 * ((head + j) % q.size);
    pool.store(d, 64, b.addr);
    pool.store(d + 8, 32, b.len);
    pool.store(d + 12, 16, (j + 1 < bufs.length ? 1 : 0) | (b.writable ? 2 : 0));
    pool.store(d + 14, 16, (head + j + 1) % q.size);
  });
  pool.store(q.avail + 4 + 2 * (q.availIdx % q.size), 16, head);
  q.availIdx = (q.availIdx + bufs.length) & 0xffff;
  pool.store(q.avail + 2, 16, q.availIdx);
  return head;
}

async function kick(c: Checks, devId: number, q: Queue): Promise<boolean> {
  const r = await transfer(encode('r2', { name: 'EVENT_AVAIL', kind: 'event', devNum: devId, fields: { vq_index: q.index, next_offset: 0 } }), false);
  return c.expect(r.ok, `EVENT_AVAIL dev ${devId} vq ${q.index}: transfer completed within 1 s`);
}

function usedEvent(devId: number, index: number, ms = TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const dev = devices.get(devId)!;
    const t = setTimeout(() => {
      dev.used.delete(index);
      resolve(false);
    }, ms);
    dev.used.set(index, () => {
      clearTimeout(t);
      dev.used.delete(index);
      resolve(true);
    });
  });
}

/** The next used element: [id, len], checked against used.idx. */
function takeUsed(c: Checks, q: Queue, what: string): [number, number] | null {
  const idx = u16(q.used + 2);
  if (!c.expect(idx !== q.usedIdx, `${what}: used.idx advanced (still ${idx})`)) return null;
  const e = q.used + 4 + 8 * (q.usedIdx % q.size);
  q.usedIdx = (q.usedIdx + 1) & 0xffff;
  return [u32(e), u32(e + 4)];
}

function readPool(off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  pool.readInto(off, out);
  return out;
}

async function workload(c: Checks, devId: number, kind: string, rounds = 3): Promise<void> {
  const dev = devices.get(devId)!;
  if (kind === 'rng') {
    // The seed the served model was given (the profile's, or dev_num + 1).
    const prng = new SeededPrng(cfg.rngSeed ?? devId + 1);
    const q = dev.queues[0]!;
    for (let r = 0; r < rounds; r++) {
      const at = buffer(32);
      const head = post(q, [{ addr: POOL_BASE + BigInt(at), len: 32, writable: true }]);
      const used = usedEvent(devId, 0);
      if (!(await kick(c, devId, q))) return;
      c.expect(await used, `rng dev ${devId}: EVENT_USED for vq 0`);
      const e = takeUsed(c, q, `rng dev ${devId}`);
      const expected = prng.nextBytes(32);
      c.expect(e !== null && e[0] === head && e[1] === 32, `rng dev ${devId}: used element (id ${head}, len 32), saw ${e?.join(', ')}`);
      c.expect(Buffer.from(readPool(at, 32)).equals(Buffer.from(expected)), `rng dev ${devId}: the 32 bytes are the seeded stream's`);
    }
  } else if (kind === 'console') {
    const [rx, tx] = dev.queues as [Queue, Queue];
    const text = new TextEncoder().encode('hello from the loopback');
    const rxAt = buffer(64);
    const rxHead = post(rx, [{ addr: POOL_BASE + BigInt(rxAt), len: 64, writable: true }]);
    if (!(await kick(c, devId, rx))) return;
    const txAt = buffer(text.length);
    pool.write(txAt, text);
    const txHead = post(tx, [{ addr: POOL_BASE + BigInt(txAt), len: text.length, writable: false }]);
    const usedTx = usedEvent(devId, 1);
    const usedRx = usedEvent(devId, 0);
    if (!(await kick(c, devId, tx))) return;
    c.expect(await usedTx, `console dev ${devId}: EVENT_USED for transmitq`);
    c.expect(await usedRx, `console dev ${devId}: EVENT_USED for receiveq (the echo)`);
    const t = takeUsed(c, tx, `console tx dev ${devId}`);
    c.expect(t !== null && t[0] === txHead, `console dev ${devId}: transmit buffer ${txHead} used`);
    const r = takeUsed(c, rx, `console rx dev ${devId}`);
    c.expect(r !== null && r[0] === rxHead && r[1] === text.length, `console dev ${devId}: echo of ${text.length} bytes in buffer ${rxHead}, saw ${r?.join(', ')}`);
    c.expect(Buffer.from(readPool(rxAt, text.length)).equals(Buffer.from(text)), `console dev ${devId}: the echo is what was sent`);
  }
}

/** Malformed messages and addresses outside the pool, on a brought-up rng device. */
async function faults(devId: number): Promise<Checks> {
  const c = new Checks();
  const dev = devices.get(devId)!;
  // 1. SET_VQUEUE outside the pool, after a reset: answered, nothing set (GET_VQUEUE cur_size 0).
  await setStatus(c, devId, 0);
  await addStatus(c, devId, STATUS.ACK | STATUS.DRIVER);
  await call(c, devId, 'SET_DRIVER_FEATURES', { block_index: 0, num_blocks: 2, features: [0, 1] });
  await addStatus(c, devId, STATUS.FEATURES_OK);
  const q = placeRing(0, dev.queues[0]!.size);
  dev.queues[0] = q;
  for (const bad of [POOL_BASE + BigInt(POOL_SIZE), POOL_BASE - 0x1000n, 0n]) {
    await setVqueue(c, devId, q, bad);
    const got = await call(c, devId, 'GET_VQUEUE', { index: 0 });
    c.expect(got !== null && n(got, 'cur_size') === 0, `SET_VQUEUE desc 0x${bad.toString(16)} outside the pool: refused (cur_size 0), saw ${got ? n(got, 'cur_size') : '-'}`);
  }
  await setVqueue(c, devId, q);
  await addStatus(c, devId, STATUS.DRIVER_OK);
  // 2. A buffer outside the pool: the kick still completes, nothing is used, the device needs a reset.
  post(q, [{ addr: POOL_BASE + BigInt(POOL_SIZE) + 0x100n, len: 32, writable: true }]);
  const used = usedEvent(devId, 0, 300);
  await kick(c, devId, q);
  c.expect(!(await used), 'a buffer outside the pool: no EVENT_USED');
  c.expect(u16(q.used + 2) === 0, 'a buffer outside the pool: used.idx stays 0');
  const st = await call(c, devId, 'GET_DEVICE_STATUS');
  c.expect(st !== null && (n(st, 'status') & STATUS.NEEDS_RESET) !== 0, `a buffer outside the pool: DEVICE_NEEDS_RESET set (status 0x${st ? n(st, 'status').toString(16) : '-'})`);
  // 3. A malformed request (msg_size beyond the message): no answer, the kernel times out after 1 s …
  const bad = encode('r2', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: devId, msgSize: 200 });
  const started = Date.now();
  const r = await transfer(bad, true);
  c.expect(!r.ok && Date.now() - started >= TIMEOUT_MS - 50, 'a malformed request: no answer, the transfer times out after 1 s');
  // … and the next transfer gets its own answer (nothing stale was written).
  const again = await call(c, devId, 'GET_DEVICE_STATUS');
  c.expect(again !== null && (n(again, 'status') & STATUS.NEEDS_RESET) !== 0, 'after the timeout the next answer is its own');
  return c;
}

async function bench(devId: number, count: number): Promise<object> {
  const c = new Checks();
  const ns: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const s = process.hrtime.bigint();
    const r = await transfer(encode('r2', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: devId }), true);
    ns.push(Number(process.hrtime.bigint() - s));
    if (!r.ok) c.failures.push('timeout');
  }
  const wall = Number(process.hrtime.bigint() - t0);
  const rngNs: number[] = [];
  const dev = devices.get(devId)!;
  const q = dev.queues[0]!;
  for (let i = 0; i < Math.min(count, 2000); i++) {
    const at = 0x300000;
    const s = process.hrtime.bigint();
    post(q, [{ addr: POOL_BASE + BigInt(at), len: 32, writable: true }]);
    const used = usedEvent(devId, 0);
    await kick(c, devId, q);
    if (!(await used)) c.failures.push('no EVENT_USED');
    takeUsed(c, q, 'bench');
    rngNs.push(Number(process.hrtime.bigint() - s));
  }
  const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((p / 100) * a.length))]! / 1000;
  return { count, perSecond: Math.round(count / (wall / 1e9)), p50Us: pct(ns, 50), p99Us: pct(ns, 99), maxUs: pct(ns, 100), rng: { count: rngNs.length, p50Us: pct(rngNs, 50), p99Us: pct(rngNs, 99) }, failures: c.failures.slice(0, 5) };
}

/** unregister_virtio_device → the driver's remove: reset, then del_vqs (RESET_VQUEUE each). */
async function remove(devId: number): Promise<Checks> {
  const c = new Checks();
  const dev = devices.get(devId)!;
  c.expect((await setStatus(c, devId, 0)) === 0, `dev ${devId}: reset on removal`);
  for (const q of dev.queues) await call(c, devId, 'RESET_VQUEUE', { index: q.index });
  devices.delete(devId);
  return c;
}

// ---- the control device: IOCTL_VMSG_LB_ADD / _REMOVE as records, serialized ------------------
let serial: Promise<void> = Promise.resolve();
let controlClosed: () => void = () => undefined;
const controlGone = new Promise<void>((resolve) => (controlClosed = resolve));
let benchDone = false;
function onControl(socket: Socket): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8) {
      const request = buf.readUInt32LE(0);
      const devId = buf.readUInt32LE(4);
      buf = buf.subarray(8);
      serial = serial.then(async () => {
        let result = 0;
        if (request === IOCTL_ADD) {
          if (devices.has(devId)) result = -constants.errno.EEXIST;
          else {
            const up = await bringUp(devId);
            if ('errno' in up) {
              devices.delete(devId);
              result = -up.errno;
              emit({ event: 'device', devId, failures: ['bring-up failed'], checks: 0 });
            } else {
              const c = up.c;
              if (cfg.mode !== 'bench') await workload(c, devId, up.kind);
              emit({ event: 'device', devId, kind: up.kind, failures: c.failures, checks: c.count });
              if (cfg.mode === 'faults' && up.kind === 'rng') {
                const f = await faults(devId);
                emit({ event: 'faults', failures: f.failures, checks: f.count });
              }
              if (cfg.mode === 'bench' && up.kind === 'rng' && !benchDone) {
                benchDone = true;
                emit({ event: 'bench', ...(await bench(devId, cfg.count ?? 20000)) });
              }
            }
          }
        } else if (request === IOCTL_REMOVE) {
          if (!devices.has(devId)) result = -constants.errno.ENODEV;
          else {
            const c = await remove(devId);
            emit({ event: 'removed', devId, failures: c.failures, checks: c.count });
          }
        } else result = -constants.errno.ENOTTY;
        const out = Buffer.alloc(4);
        out.writeInt32LE(result, 0);
        socket.write(out);
      });
    }
  });
  socket.on('close', () =>
    void serial.then(() => {
      emit({ event: 'control-closed', violations });
      controlClosed();
    }),
  );
}

async function main(): Promise<void> {
  const server = createServer(onControl);
  await new Promise<void>((resolve) => server.listen(join(cfg.dir, 'ctl.sock'), resolve));
  emit({ event: 'ready' });
  // Opened on the pool: a FIFO's open waits for the other end (the serving process).
  const open = promisify(openFd);
  const [td, first] = await Promise.all([open(toDevicePath, 'w'), open(toKernelPath, 'r')]);
  toDevice = td;
  let pending: Buffer = Buffer.alloc(0);
  // The device's writes are read as they arrive, on this process's own event loop (a pipe handle,
  // not a pool thread): one wake-up per answer, as the kernel's transfer waiting on its completion.
  for (let tk = first; ; ) {
    const fifo = new Socket({ fd: tk, readable: true, writable: false });
    fifo.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      while (pending.length >= MIN_SIZE) {
        onDeviceWrite(new Uint8Array(pending.subarray(0, MIN_SIZE)));
        pending = pending.subarray(MIN_SIZE);
      }
    });
    await new Promise((resolve) => fifo.once('close', resolve));
    if (cfg.sessions === undefined || --cfg.sessions <= 0) break;
    // The kernel's device outlives a serving process: the next one opens it again.
    emit({ event: 'reopen' });
    tk = await open(toKernelPath, 'r');
  }
  if (pending.length) violations.push(`${pending.length} bytes left over: writes must be ${MIN_SIZE} bytes`);
  emit({ event: 'closed', violations });
  // The serving side closes the control socket too: report that before leaving.
  await Promise.race([controlGone, new Promise((resolve) => setTimeout(resolve, 2000))]);
  server.close();
  rmSync(cfg.pool, { force: true });
  process.exit(0);
}

void main();
