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
import { findingOf } from '../../src/trace/conformance';
import { loadNative } from '../../main/native/index';
import { dir, expectCaptureHoldsPublished, expectCleanText, expectStoppedOn, expectSurvived, RESPONSE_MS, runWithFault, SLOT, withProblem, type BOARDS, type FaultRun } from './faultRig';

const native = loadNative();
const SIM_ENTRY = resolve(__dirname, '../../main/host/sim/shm-entry.cjs');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CAPTURE = ['capture', '--exercise', '--duration', '300ms'];

function publishedNamed(run: FaultRun, name: string) {
  return run.published.filter((p) => p.direction === 'device-to-driver' && decode(p.bytes, 'r3', { direction: 'device-to-driver' }).msg?.name === name);
}

describe.skipIf(!native.ok)('a board that answers wrongly', () => {
  it('a board that behaves: a clean run, and the capture holds every message it published (the yardstick for the faults below)', async () => {
    const run = await runWithFault('qemu', null, CAPTURE);
    expectSurvived(run);
    expect(run.text).toMatch(/\b0 problems\b/);
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

  // Each stops bring-up; the diagnosis is the malformed answer, never a timeout or a wrong conclusion drawn from it.
  it.each<{ what: string; board: keyof typeof BOARDS; fault: string; says: RegExp[]; not: RegExp[] }>([
    {
      what: 'msg_size larger than the slot',
      board: 'versal',
      fault: 'size-over@GET_DEVICE_INFO',
      says: [/malformed GET_DEVICE_INFO response/, /byte 6/, new RegExp(`\\b${SLOT + 4}\\b`), new RegExp(`\\b${SLOT}\\b`)],
      not: [/no response to GET_DEVICE_INFO/],
    },
    { what: 'msg_size smaller than the header', board: 'qemu', fault: 'size-under@GET_DEVICE_INFO', says: [/malformed GET_DEVICE_INFO response/, /byte 6/, /\b6\b/, /\b8\b/], not: [/no response to GET_DEVICE_INFO/] },
    {
      // The board cuts the message at 20 bytes (checked below).
      what: 'msg_size 20 for GET_DEVICE_FEATURES’ 24-byte layout',
      board: 'versal',
      fault: 'size-short',
      says: [/malformed GET_DEVICE_FEATURES response/, /byte 6/, /\b20\b/, /\b24\b/],
      not: [/does not offer VIRTIO_F_VERSION_1/],
    },
    {
      what: 'the right token with another dev_num',
      board: 'versal',
      fault: 'wrong-dev@GET_DEVICE_INFO',
      says: [/wrong dev_num/, /expected 0, saw 1/],
      not: [/no response to GET_DEVICE_INFO \(dev_num 0[^)]*\) within/],
    },
  ])('malformed or misaddressed answer: $what', async ({ board, fault, says, not }) => {
    const run = await runWithFault(board, fault, CAPTURE);
    if (fault === 'size-short') expect(publishedNamed(run, 'GET_DEVICE_FEATURES')[0]!.bytes.length).toBe(20);
    expectStoppedOn(run, says, not);
  });

  it.each([
    ['versal', 'R3-token-echo'],
    ['qemu', 'R4-token-echo'],
  ] as const)('a response with another token is never paired by (dev_num, msg_id); the diagnosis names the token seen (%s, %s)', async (board, rule) => {
    const run = await runWithFault(board, 'wrong-token@GET_DEVICE_INFO', CAPTURE);
    // Each device's GET_DEVICE_INFO fails on its own answer: every token the board sent is named.
    const sent = publishedNamed(run, 'GET_DEVICE_INFO').map((p) => decodeHeader(p.bytes, 'r3')!.token);
    expect(sent.length).toBeGreaterThan(0);
    const seen = sent.map((t) => new RegExp(`saw 0x${t.toString(16).padStart(4, '0')}\\)`));
    expectStoppedOn(run, [/the board did not echo the token/, ...seen], [/no response to GET_DEVICE_INFO/]);
    const wrong = withProblem(run, 'wrong-token');
    expect(wrong.map((r) => r.token)).toEqual(sent);
    // The capture's conformance findings say the same: R4 (and R3 on the AMP bus) a response echoes its token.
    const findings = run.records!.flatMap((r) => findingOf(r) ?? []);
    expect(findings.filter((f) => f.rule === rule).map((f) => f.seq)).toEqual(wrong.map((r) => r.seq));
  });

  it.each([
    ['every response sent twice', 'duplicate'],
    ['a copy of the previous response before each real one', 'stale'],
  ])('answers the driver already had (%s): flagged duplicate, never paired with a later request', async (_what, fault) => {
    const run = await runWithFault('versal', fault, CAPTURE);
    expectSurvived(run);
    expect(run.text).not.toMatch(/FEATURES_OK cleared/);
    expect(withProblem(run, 'duplicate').length).toBeGreaterThan(0);
  });

  it('exercise --json on a board whose bring-up fails: stdout is still one JSON document saying why', async () => {
    const run = await runWithFault('versal', 'size-over', ['exercise', '--count', '2', '--json']);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    const doc = JSON.parse(run.stdout) as { ok: boolean; board: string; error: string; devices: unknown[]; problems: string[]; trace: string };
    expect(doc).toMatchObject({ ok: false, board: expect.stringMatching(/^sim-versal/), devices: [] });
    expect(doc.error).toMatch(/msg_size/);
    expect(doc.trace).toMatch(/amp-workbench-captures|capture/);
  });

  it('a late response: "no response", then the late answer recorded as late', async () => {
    // The console's GET_CONFIG answered twice the timeout late: that device fails, the rng comes up,
    // and the capture (without --exercise it records on after bring-up) is still open when the answer comes.
    const run = await runWithFault('versal', `late=${2 * RESPONSE_MS}@GET_CONFIG`, ['capture', '--duration', `${4 * RESPONSE_MS}ms`]);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(run.text).toMatch(/no response to GET_CONFIG/);
    const late = withProblem(run, 'late');
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((r) => r.dir === 'device-to-driver')).toBe(true);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });

  it('QEMU’s GET_DEVICES (num = MAX(count, 32), msg_size 14 + num, token 0, garbage bitmap): the real devices and no phantom, with a finding', async () => {
    const run = await runWithFault('versal', 'qemu-get-devices', CAPTURE);
    // The board answered as the field notes say: bus response, token 0, msg_size at least 46 (count 32).
    const answer = publishedNamed(run, 'GET_DEVICES')[0] ?? run.published.find((p) => p.direction === 'device-to-driver')!;
    expect([answer.bytes[0], answer.bytes[1], answer.bytes[4]! | (answer.bytes[5]! << 8)]).toEqual([0x03, 0x02, 0]);
    expect(answer.bytes[6]! | (answer.bytes[7]! << 8)).toBeGreaterThanOrEqual(46);
    expectSurvived(run);
    expect(run.text).toMatch(/GET_DEVICES[^\n]*msg_size/);
    // Only the two real devices were ever asked about.
    const asked = run.records!.filter((r) => r.kind === 'message' && r.dir === 'driver-to-device' && decode(r.data, 'r3', { direction: 'driver-to-device' }).msg?.name === 'GET_DEVICE_INFO');
    expect([...new Set(asked.map((r) => r.devNum))].sort()).toEqual([0, 1]);
  });

  it('QEMU’s GET_DEVICES, probed: the device table lists the two real devices, with the finding', async () => {
    const run = await runWithFault('versal', 'qemu-get-devices', ['probe']);
    expect(run.code, `exit status; ${run.text}`).toBe(0);
    expect(run.text).toMatch(/: 2 device\(s\) over vmamp-shmem-v1/);
    expect(run.text).toMatch(/GET_DEVICES[^\n]*msg_size/);
    expectCleanText(run);
  });

  it('GET_DEVICES advertising 1000 devices of which 2 answer: bring-up ends in bounded time and says how many it gave up on', async () => {
    const run = await runWithFault('versal', 'ghost-devices=1000', ['capture', '--duration', '100ms'], 45_000);
    expect(run.signal, 'killed: bring-up did not end within 45 s').toBe(null);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    // How many it gave up on depends on when it stops asking; that it says a number does not.
    expect(run.text).toMatch(/\bg(ave|iving) up\b[^\n]*\b\d+ (advertised )?devices?\b|\b\d+ (advertised )?devices?\b[^\n]*\bg(ave|iving) up\b/);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  }, 60_000);

  it('a GET_DEVICES next_offset that never advances ends the walk with a finding, in the capture too', async () => {
    const run = await runWithFault('qemu', 'next-offset-loop', CAPTURE);
    expectSurvived(run);
    expect(run.text).toMatch(/cannot advance/);
  });
});
