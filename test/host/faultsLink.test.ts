/**
 * The workbench against a board whose link or memory goes wrong mid-session (`amp-workbench sim
 * --fault`, a separate process over a shm file): the session ends once, with one line naming
 * the reason and an ERROR marker before DETACH in the capture, and the capture keeps every
 * message the board published; queue and ring corruption is reported with what was expected
 * and what was seen. Answer-level faults are in faults.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';

import { loadNative } from '../../main/native/index';
import { dir, expectCaptureHoldsPublished, expectCleanText, expectErrorThenDetach, markers, runWithFault, type FaultRun } from './faultRig';

const native = loadNative();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Long enough that the fault (after the first EVENT_USED) always falls inside the run. */
const CAPTURE = ['capture', '--exercise', '--duration', '2s'];

/** The number of lines of the run's text that match. */
const linesMatching = (run: FaultRun, re: RegExp): number => run.text.split('\n').filter((l) => re.test(l)).length;

/** What the board logged when the fault fired, e.g. "producer index 17 -> 22 (N = 63)". */
function producerMove(run: FaultRun): { from: number; to: number } {
  const m = /producer index (\d+) -> (\d+)/.exec(run.simLog);
  expect(m, run.simLog).not.toBe(null);
  return { from: Number(m![1]), to: Number(m![2]) };
}

describe.skipIf(!native.ok)('a board whose link or memory fails mid-session', () => {
  describe('the session ends once, with the reason, an ERROR marker and every published message kept', () => {
    it('the board process dies (SIGKILL)', async () => {
      const run = await runWithFault('versal', 'die@EVENT_USED', CAPTURE);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      expect(linesMatching(run, /doorbell socket/), run.text).toBe(1);
      expectErrorThenDetach(run, /doorbell socket/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it('the board closes its doorbell socket but lives on', async () => {
      const run = await runWithFault('qemu', 'socket-close@EVENT_USED', CAPTURE);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      expect(linesMatching(run, /doorbell socket/), run.text).toBe(1);
      expectErrorThenDetach(run, /doorbell socket/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it.each(['INIT', 'SHUTDOWN', 'PEER_DEAD'])('the board’s queue head drops to %s', async (state) => {
      const run = await runWithFault('versal', `head=${state}@EVENT_USED`, CAPTURE);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      expect(linesMatching(run, /the board stopped its side of the bus/), run.text).toBe(1);
      expect(run.text).toContain(state);
      expectErrorThenDetach(run, /the board stopped its side of the bus/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it('the board truncates the shared file: an error that says it shrank, not SIGBUS', async () => {
      const run = await runWithFault('versal', 'truncate@EVENT_USED', CAPTURE);
      expect(run.signal, run.text).toBe(null);
      expect(run.code, `exit status; ${run.text}`).not.toBe(135);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      expect(run.text).toMatch(/shrank/);
      expectErrorThenDetach(run, /shrank/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });
  });

  // The device goes on serving its virtqueues, so the workloads may still succeed (exit 0); what
  // matters is that the corruption is reported, with expected vs seen, and marked in the capture.
  describe('queue and ring corruption: named with expected vs seen, an ERROR marker, no crash', () => {
    it('the board’s producer index jumps past the ring', async () => {
      const run = await runWithFault('qemu', 'index-range@EVENT_USED', CAPTURE);
      const { to } = producerMove(run);
      expect(to).toBe(68);
      expect([0, 1], `exit status; ${run.text}`).toContain(run.code);
      expect(run.text).toMatch(/index 68\b/);
      expect(run.text).toMatch(/0\.\.62/);
      expectErrorThenDetach(run, /index 68\b/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it('the board’s producer index moves backwards', async () => {
      const run = await runWithFault('versal', 'index-back=3@EVENT_USED', CAPTURE);
      const { from, to } = producerMove(run);
      expect([0, 1], `exit status; ${run.text}`).toContain(run.code);
      expect(run.text).toMatch(/index/);
      expect(run.text).toMatch(new RegExp(`\\b${to}\\b`));
      expect(run.text).toMatch(new RegExp(`\\b${from}\\b`));
      expectErrorThenDetach(run, /index/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it('a torn slot: index published with only the first 4 bytes written', async () => {
      const run = await runWithFault('versal', 'torn@EVENT_USED', CAPTURE);
      expect([0, 1], `exit status; ${run.text}`).toContain(run.code);
      expect(run.text).toMatch(/malformed EVENT_USED/);
      expect(run.text).toMatch(/byte 6/);
      expectErrorThenDetach(run);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it.each([
      // Queue size 128: id 135; the rng's 32-byte buffer: len 1 MiB.
      ['an id past the queue size', 'bad-used=0@EVENT_USED', /\bid 135\b/, [/\bid\b/, /\b128\b/, /\b135\b/]],
      ['a len larger than the buffer', 'bad-used=1@EVENT_USED', /\blen 1048576\b/, [/\blen\b/, /\b32\b/, /\b1048576\b/]],
    ])('a used-ring entry with %s', async (_what, fault, written, said) => {
      const run = await runWithFault('versal', fault, CAPTURE);
      expect(run.simLog).toMatch(written);
      expect(run.code, `exit status; ${run.text}`).toBe(1);
      for (const re of [/used ring/, ...said]) expect(run.text).toMatch(re);
      expectErrorThenDetach(run, /used ring/);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });
  });

  it('DEVICE_NEEDS_RESET set mid-session is reported by name', async () => {
    const run = await runWithFault('versal', 'needs-reset=0@EVENT_USED', CAPTURE);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(run.text).toMatch(/DEVICE_NEEDS_RESET/);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });

  describe('floods: recorded, survived, the workloads still succeed', () => {
    it('2000 EVENT_USED with nothing new in the used ring', async () => {
      const run = await runWithFault('versal', 'event-flood=2000@EVENT_USED', ['capture', '--exercise', '--duration', '500ms']);
      expect(run.code, `exit status; ${run.text}`).toBe(0);
      expect(run.published.filter((p) => p.direction === 'device-to-driver').length).toBeGreaterThan(2000);
      expect(markers(run).map((m) => m.kind)).not.toContain('error');
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });

    it('5000 doorbells with nothing queued', async () => {
      const run = await runWithFault('qemu', 'doorbell-flood=5000@EVENT_USED', ['capture', '--exercise', '--duration', '500ms']);
      expect(run.code, `exit status; ${run.text}`).toBe(0);
      expect(markers(run).map((m) => m.kind)).not.toContain('error');
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    });
  });
});
