/**
 * serve-device on the Linux loopback bus, end to end against a stand-in for the kernel in its own
 * process (loopbackKernel.ts: FIFO pair, shared pool, fake device tree, ioctls over a socket),
 * whose scripted kernel brings each device up as Linux does and checks every answer and used
 * buffer; plus malformed messages and addresses outside the pool.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { findBuiltinProfile } from '../../src/boards/builtin';
import { openDeviceSession } from '../../main/host/deviceSession';
import { parseLinkSpec } from '../../main/host/links/spec';
import { ioctlRegistrar, IOCTL_VMSG_LB_ADD, IOCTL_VMSG_LB_REMOVE, readPoolRegion } from '../../main/host/links/linuxLoopback';
import { loadCapture } from '../../main/host/trace/load';
import { toRecords } from '../../src/trace/block';
import { startServeDevice, startStandIn, type StandIn } from './loopbackRig';

let standIn: StandIn | null = null;
afterEach(() => standIn?.kill());

function captureTexts(dir: string): { messages: number; markers: string[]; sizes: Set<number> } {
  const c = loadCapture(dir);
  if (!c.ok) throw new Error(c.error);
  const records = toRecords(c.value.blocks());
  const messages = records.filter((r) => r.kind === 'message');
  return {
    messages: messages.length,
    markers: records.filter((r) => r.kind === 'marker').map((r) => new TextDecoder().decode(r.data)),
    sizes: new Set(messages.map((r) => r.data.length)),
  };
}

describe('serve-device --link linux-loopback against a kernel stand-in', () => {
  it('brings up rng, i2c and console as Linux does, serves their queues, and removes them on exit', async () => {
    standIn = await startStandIn('bringup', { rngSeed: 1 });
    const out = join(standIn.dir, 'capture');
    const serve = startServeDevice(['--link', standIn.link, '--out', out]);
    const kinds = ['rng', 'i2c', 'console'];
    for (const [i, kind] of kinds.entries()) {
      const e = await standIn.waitFor((ev) => ev.event === 'device' && ev.devId === i + 1);
      expect({ kind: e.kind, failures: e.failures }).toEqual({ kind, failures: [] });
      expect(e.checks).toBeGreaterThan(30);
    }
    await serve.ready;
    serve.child.kill('SIGTERM');
    const done = await serve.exited;
    expect(done.code, done.stderr).toBe(0);
    // IOCTL_VMSG_LB_REMOVE for each: the kernel resets the device and its queues through the loop.
    for (const devId of [1, 2, 3]) expect((await standIn.waitFor((ev) => ev.event === 'removed' && ev.devId === devId)).failures).toEqual([]);
    const closed = await standIn.waitFor((ev) => ev.event === 'control-closed');
    expect(closed.violations).toEqual([]);
    expect(done.stdout).toMatch(/^ready Linux loopback bus/m);
    expect(done.stdout).toMatch(/^1 +4 +ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK/m);
    const cap = captureTexts(out);
    expect(cap.messages).toBeGreaterThan(100);
    // Recorded trimmed to msg_size: every message fits VIRTIO_MSG_MIN_SIZE.
    expect(Math.max(...cap.sizes)).toBeLessThanOrEqual(44);
    expect(cap.markers.some((m) => m.includes('IOCTL_VMSG_LB_ADD dev_id 3 (console): registered'))).toBe(true);
    expect(cap.markers.some((m) => m.includes('IOCTL_VMSG_LB_REMOVE dev_id 1: removed'))).toBe(true);
    // What the device side wrote is conformant R2 (the EVENT_AVAIL completions are notes, not messages).
    const check = spawnSync(process.execPath, [resolve(__dirname, '../../main/host/cli/amp-workbench.cjs'), 'check', out], { encoding: 'utf8' });
    expect(check.stdout).toMatch(/^0 errors, 0 warnings, 0 infos$/m);
    expect(check.status).toBe(0);
  }, 60_000);

  it('refuses queues and buffers outside the pool and malformed messages, and says why', async () => {
    standIn = await startStandIn('faults');
    const out = join(standIn.dir, 'capture');
    const serve = startServeDevice(['--link', standIn.link, '--out', out, '--devices', 'rng']);
    const faults = await standIn.waitFor((ev) => ev.event === 'faults');
    expect(faults.failures).toEqual([]);
    await serve.ready;
    serve.child.kill('SIGTERM');
    const done = await serve.exited;
    expect(done.code).toBe(0);
    expect((await standIn.waitFor((ev) => ev.event === 'control-closed')).violations).toEqual([]);
    const said = done.stderr;
    expect(said).toContain('SET_VQUEUE desc_addr: expected 16-byte aligned area inside the data window, saw 0x100400000 (4096 bytes, outside the data window); nothing changed (answered)');
    expect(said).toMatch(/desc\[0\]\.addr at data offset 0x[0-9a-f]+: expected a buffer inside the data window, saw 0x100400100 \+ 32 bytes/);
    // The device's own EVENT_CONFIG (DEVICE_NEEDS_RESET) is not written: the bus takes only EVENT_USED.
    expect(said).toContain('message 0x40 not sent: the loopback bus takes only EVENT_USED from the device side');
    expect(said).toContain('GET_DEVICE_STATUS: msg_size 0x00c8 (200) but 44 bytes received');
    expect(said).toContain('no answer: the kernel gives up on this transfer after 1 s (-ETIMEDOUT)');
    const cap = captureTexts(out);
    expect(cap.markers.some((m) => m.includes('the data window is the vmsglb pool [0x100000000, 0x100400000)'))).toBe(true);
    expect(cap.markers.some((m) => m.includes('outside the data window'))).toBe(true);
  }, 60_000);

  it('says what is missing when there is no loopback bus', async () => {
    const serve = startServeDevice(['--link', 'linux-loopback:/nonexistent/virtio-msg-lb,dt=/nonexistent/dt']);
    const done = await serve.exited;
    expect(done.code).toBe(1);
    expect(done.stderr.trim()).toBe(
      'serve-device: the loopback bus needs a reserved-memory node named vmsglb in the device tree, and no such file or folder (/nonexistent/dt/reserved-memory) (ENOENT)',
    );
  });

  it('refuses links and device lists it cannot serve (usage: exit 2)', async () => {
    const sim = await startServeDevice(['--link', 'sim']).exited;
    expect([sim.code, sim.stderr.trim()]).toEqual([2, 'amp-workbench: the device side is served on linux-loopback, shm-file or ivshmem, not on sim']);
    const devices = await startServeDevice(['--link', 'linux-loopback', '--devices', 'rng,gpu']).exited;
    expect([devices.code, devices.stderr.trim()]).toEqual([2, 'amp-workbench: --devices: expected KIND[:DEV_NUM],… with KIND one of i2c, rng, console, saw "gpu"']);
  });
});

describe('one loopback bus, sessions in turn', () => {
  it('hands the kernel\'s first message to the next session, not to the read an earlier one left waiting', async () => {
    standIn = await startStandIn('bringup', { sessions: 2 });
    const link = parseLinkSpec(standIn.link);
    if (!link.ok) throw new Error(link.error);
    const profile = findBuiltinProfile('sim-linux-loopback')!;
    const capturesDir = join(standIn.dir, 'captures');
    for (const round of [1, 2]) {
      const s = await openDeviceSession(profile, link.value, [{ devNum: 1, kind: 'rng' }], { capture: { capturesDir } });
      if (!s.ok) throw new Error(s.error);
      await standIn.waitFor((e) => e.event === 'device' && standIn!.events.filter((x) => x.event === 'device').length === round);
      await s.value.close();
      await standIn.waitFor((e) => e.event === 'removed' && standIn!.events.filter((x) => x.event === 'removed').length === round);
    }
    expect(standIn.events.filter((e) => e.event === 'device').map((e) => e.failures)).toEqual([[], []]);
  }, 60_000);
});

describe('the loopback bus control device', () => {
  it('runs the ioctls through the native addon and says what a refusal means', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amp-lb-ioctl-'));
    const notTheBus = join(dir, 'plain');
    writeFileSync(notTheBus, '');
    const r = ioctlRegistrar(notTheBus);
    if (!r.ok) throw new Error(r.error);
    const added = await r.value.add(1);
    r.value.close();
    expect(added).toEqual({ ok: false, error: `IOCTL_VMSG_LB_ADD dev_id 1 on ${notTheBus} failed: ${notTheBus} does not take the loopback bus's ioctls (ENOTTY): is it /dev/virtio-msg-lb?` });
    expect(ioctlRegistrar(join(dir, 'missing'))).toEqual({
      ok: false,
      error: `cannot open the loopback bus's control device ${join(dir, 'missing')}: no such file or folder (${join(dir, 'missing')}) (ENOENT)`,
    });
    // include/uapi/linux/virtio_msg_lb.h: _IOC(_IOC_NONE, 'P', 0|1, sizeof(struct vmsg_lb_dev_info)).
    expect([IOCTL_VMSG_LB_ADD, IOCTL_VMSG_LB_REMOVE]).toEqual([0x45000, 0x45001]);
  });

  it('reads the vmsglb pool from the device tree', () => {
    const dt = mkdtempSync(join(tmpdir(), 'amp-lb-dt-'));
    const node = join(dt, 'reserved-memory', 'vmsglb@100000000');
    mkdirSync(node, { recursive: true });
    writeFileSync(join(dt, 'reserved-memory', '#address-cells'), Buffer.from([0, 0, 0, 2]));
    writeFileSync(join(dt, 'reserved-memory', '#size-cells'), Buffer.from([0, 0, 0, 2]));
    writeFileSync(join(node, 'reg'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0]));
    expect(readPoolRegion(dt)).toEqual({ ok: true, value: { base: 0x1_0000_0000n, size: 0x400000n, node } });
    writeFileSync(join(node, 'reg'), Buffer.from([0, 0, 0, 1]));
    expect(readPoolRegion(dt)).toEqual({ ok: false, error: `${join(node, 'reg')} has 4 bytes, expected 16 (#address-cells 2, #size-cells 2)` });
  });
});
