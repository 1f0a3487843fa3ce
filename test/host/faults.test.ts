/**
 * The workbench against boards whose firmware answers wrongly (`amp-workbench sim --fault`, a
 * separate process over a shm file): the real CLI must name what the board did, once, with
 * expected vs seen and where, keep every message the board published in the capture, and end
 * with a count of problems and findings. The link-level faults are in faultsLink.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { decode, decodeHeader } from '../../src/protocol/index';
import { loadNative } from '../../main/native/index';
import { dir, expectCaptureHoldsPublished, expectCleanText, expectErrorThenDetach, markers, runWithFault, SLOT, withProblem, type FaultRun } from './faultRig';

const native = loadNative();
const SIM_ENTRY = resolve(__dirname, '../../main/host/sim/shm-entry.cjs');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CAPTURE = ['capture', '--exercise', '--duration', '300ms'];

function publishedNamed(run: FaultRun, rev: 'r3' | 'r4', name: string) {
  return run.published.filter((p) => p.direction === 'device-to-driver' && decode(p.bytes, rev, { direction: 'device-to-driver' }).msg?.name === name);
}

describe.skipIf(!native.ok)('a board that answers wrongly', () => {
  it('a board that behaves: a clean run, and the capture holds every message it published (the yardstick for the faults below)', async () => {
    const run = await runWithFault('qemu', null, CAPTURE);
    expect(run.code, `exit status; ${run.text}`).toBe(0);
    expect(markers(run).map((m) => m.kind)).not.toContain('error');
    expectCaptureHoldsPublished(run);
    expect(run.text).toMatch(/\b0 problems\b/);
    expectCleanText(run);
  });

  it('an unknown fault, or one the board cannot play, is a usage error that lists what there is', () => {
    const sim = (args: string[]) => spawnSync(process.execPath, [SIM_ENTRY, ...args, '--shm', `${dir}/unused`], { encoding: 'utf8' });
    const unknown = sim(['--board', 'sim-versal', '--fault', 'dupliate']);
    expect([unknown.status, unknown.stderr]).toEqual([2, expect.stringMatching(/--fault "dupliate": expected NAME\[=ARG\]\[@N\|@MESSAGE\] with NAME one of size-over, .*duplicate, /)]);
    const trigger = sim(['--board', 'sim-versal', '--fault', 'die@GET_DEVICE_INF']);
    expect([trigger.status, trigger.stderr]).toEqual([2, expect.stringContaining('saw "GET_DEVICE_INF"')]);
    const r4 = sim(['--board', 'sim-qemu-amp-pci', '--fault', 'qemu-get-devices']);
    expect([r4.status, r4.stderr]).toEqual([2, expect.stringContaining("plays QEMU's R3 model; sim-qemu-amp-pci speaks r4")]);
    const help = sim(['--fault', 'help']);
    expect(help.status).toBe(0);
    expect(help.stdout.split('\n').filter((l) => /^ {2}[a-z-]+(\[=ARG\])? \((each message|once), default @/.test(l))).toHaveLength(22);
  });

  describe('malformed sizes: reported as malformed, with the byte and expected vs seen, never as a timeout', () => {
    it('msg_size larger than the slot', async () => {
      const run = await runWithFault('versal', 'size-over@GET_DEVICE_INFO', CAPTURE);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      expect(run.text).toMatch(/malformed GET_DEVICE_INFO response/);
      expect(run.text).toMatch(/byte 6/);
      expect(run.text).toContain(String(SLOT + 4));
      expect(run.text).toContain(String(SLOT));
      expect(run.text).not.toMatch(/no response to GET_DEVICE_INFO/);
      expectErrorThenDetach(run, /malformed GET_DEVICE_INFO/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it('msg_size smaller than the header', async () => {
      const run = await runWithFault('qemu', 'size-under@GET_DEVICE_INFO', CAPTURE);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      expect(run.text).toMatch(/malformed GET_DEVICE_INFO response/);
      expect(run.text).toMatch(/byte 6/);
      expect(run.text).toMatch(/\b6\b/);
      expect(run.text).toMatch(/\b8\b/);
      expect(run.text).not.toMatch(/no response to GET_DEVICE_INFO/);
      expectErrorThenDetach(run, /malformed GET_DEVICE_INFO/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it('msg_size 20 for GET_DEVICE_FEATURES’ 24-byte layout is not read as "no features offered"', async () => {
      const run = await runWithFault('versal', 'size-short', CAPTURE);
      // The board really cut the message at 20 bytes.
      expect(publishedNamed(run, 'r3', 'GET_DEVICE_FEATURES')[0]!.bytes.length).toBe(20);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      expect(run.text).toMatch(/malformed GET_DEVICE_FEATURES response/);
      expect(run.text).toMatch(/byte 6/);
      expect(run.text).toMatch(/\b20\b/);
      expect(run.text).toMatch(/\b24\b/);
      expect(run.text).not.toMatch(/does not offer VIRTIO_F_VERSION_1/);
      expectErrorThenDetach(run, /malformed GET_DEVICE_FEATURES/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });
  });

  it('a response with the right token but another dev_num is a wrong dev_num', async () => {
    const run = await runWithFault('versal', 'wrong-dev@GET_DEVICE_INFO', CAPTURE);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(run.text).toMatch(/wrong dev_num/);
    expect(run.text).toMatch(/expected 0, saw 1/);
    expect(run.text).not.toMatch(/no response to GET_DEVICE_INFO \(dev_num 0[^)]*\) within/);
    expectErrorThenDetach(run);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });

  it('a response with another token is never paired by (dev_num, msg_id); the diagnosis names the token seen', async () => {
    const run = await runWithFault('versal', 'wrong-token@GET_DEVICE_INFO', CAPTURE);
    const sent = publishedNamed(run, 'r3', 'GET_DEVICE_INFO')[0]!;
    const token = decodeHeader(sent.bytes, 'r3')!.token;
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(run.text).toContain(`0x${token.toString(16).padStart(4, '0')}`);
    expectErrorThenDetach(run);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });

  describe('answers the driver already had: flagged duplicate, never paired with a later request', () => {
    it.each([
      ['every response sent twice', 'duplicate'],
      ['a copy of the previous response before each real one', 'stale'],
    ])('%s', async (_what, fault) => {
      const run = await runWithFault('versal', fault, CAPTURE);
      expect(run.code, `exit status; ${run.text}`).toBe(0);
      expect(run.text).not.toMatch(/FEATURES_OK cleared/);
      expect(withProblem(run, 'duplicate').length).toBeGreaterThan(0);
      expect(markers(run).map((m) => m.kind)).not.toContain('error');
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });
  });

  it('a late response: "no response", then the late answer recorded as late', async () => {
    const run = await runWithFault('versal', 'late=300@GET_DEVICE_STATUS', ['capture', '--duration', '1s']);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(run.text).toMatch(/no response to GET_DEVICE_STATUS/);
    const late = withProblem(run, 'late');
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((r) => r.dir === 'device-to-driver')).toBe(true);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });

  it('QEMU’s GET_DEVICES (num = MAX(count, 32), msg_size 14 + num, token 0, garbage bitmap): the real devices and no phantom, with a finding', async () => {
    const run = await runWithFault('versal', 'qemu-get-devices', CAPTURE);
    // The board answered byte for byte as the field notes say: msg_size 46 for count 32 (or larger for more).
    const answer = publishedNamed(run, 'r3', 'GET_DEVICES')[0] ?? run.published.find((p) => p.direction === 'device-to-driver')!;
    expect(answer.bytes[0]).toBe(0x03);
    expect(answer.bytes[1]).toBe(0x02);
    expect(answer.bytes[4]! | (answer.bytes[5]! << 8)).toBe(0);
    expect(answer.bytes[6]! | (answer.bytes[7]! << 8)).toBeGreaterThanOrEqual(46);
    expect(run.code, `exit status; ${run.text}`).toBe(0);
    expect(run.text).toMatch(/GET_DEVICES[^\n]*msg_size/);
    // Only the two real devices were ever asked about.
    const asked = new Set(
      run.records!.filter((r) => r.kind === 'message' && r.dir === 'driver-to-device' && decode(r.data, 'r3', { direction: 'driver-to-device' }).msg?.name === 'GET_DEVICE_INFO').map((r) => r.devNum),
    );
    expect([...asked].sort()).toEqual([0, 1]);
    expect(markers(run).map((m) => m.kind)).not.toContain('error');
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });

  it('GET_DEVICES advertising 1000 devices of which 2 answer: bring-up ends in bounded time and says how many it gave up on', async () => {
    const run = await runWithFault('versal', 'ghost-devices=1000', ['capture', '--duration', '100ms'], 45_000);
    expect(run.signal, 'killed: bring-up did not end within 45 s').toBe(null);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(run.text).toMatch(/gave up/);
    expect(run.text).toMatch(/\b998\b/);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  }, 60_000);

  it('a GET_DEVICES next_offset that never advances ends the walk with a finding, in the capture too', async () => {
    const run = await runWithFault('qemu', 'next-offset-loop', CAPTURE);
    expect(run.code, `exit status; ${run.text}`).toBe(0);
    expect(run.text).toMatch(/cannot advance/);
    expect(markers(run).map((m) => m.kind)).not.toContain('error');
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });
});
