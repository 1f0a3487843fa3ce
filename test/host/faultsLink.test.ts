/**
 * The workbench against a board whose link or memory goes wrong mid-session (`amp-workbench sim
 * --fault`, a separate process over a shm file): the session ends once, with one line naming
 * the reason and an ERROR marker before DETACH in the capture, and the capture keeps every
 * message the board published; queue and ring corruption is reported with what was expected
 * and what was seen. Answer-level faults are in faults.test.ts.
 */
import { rmSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { loadNative } from '../../main/native/index';
import { dir, expectCaptureHoldsPublished, expectCleanText, expectStoppedOn, expectSurvived, markers, runWithFault, type BOARDS, type FaultRun } from './faultRig';

const native = loadNative();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Long enough that the fault (after the first EVENT_USED) always falls inside the run. */
const CAPTURE = ['capture', '--exercise', '--duration', '2s'];
const SHORT = ['capture', '--exercise', '--duration', '500ms'];

/** The number of lines of the run's text that match. */
const linesMatching = (run: FaultRun, re: RegExp): number => run.text.split('\n').filter((l) => re.test(l)).length;

/** What the board logged when the fault fired, e.g. "producer index 17 -> 22 (N = 63)". */
function producerMove(run: FaultRun): { from: number; to: number } {
  const m = /producer index (\d+) -> (\d+)/.exec(run.simLog);
  expect(m, run.simLog).not.toBe(null);
  return { from: Number(m![1]), to: Number(m![2]) };
}

describe.skipIf(!native.ok)('a board whose link or memory fails mid-session', () => {
  it.each<{ what: string; board: keyof typeof BOARDS; fault: string; reason: RegExp; also: RegExp[] }>([
    { what: 'the board process dies (SIGKILL)', board: 'versal', fault: 'die@EVENT_USED', reason: /doorbell socket/, also: [] },
    { what: 'the board closes its doorbell socket but lives on', board: 'qemu', fault: 'socket-close@EVENT_USED', reason: /doorbell socket/, also: [] },
    { what: 'the board’s queue head drops to INIT', board: 'versal', fault: 'head=INIT@EVENT_USED', reason: /the board stopped its side of the bus/, also: [/INIT/] },
    { what: 'the board’s queue head drops to SHUTDOWN', board: 'versal', fault: 'head=SHUTDOWN@EVENT_USED', reason: /the board stopped its side of the bus/, also: [/SHUTDOWN/] },
    { what: 'the board’s queue head drops to PEER_DEAD', board: 'qemu', fault: 'head=PEER_DEAD@EVENT_USED', reason: /the board stopped its side of the bus/, also: [/PEER_DEAD/] },
  ])('$what: the session ends once, saying why', async ({ board, fault, reason, also }) => {
    const run = await runWithFault(board, fault, CAPTURE);
    expect(linesMatching(run, reason), run.text).toBe(1);
    expectStoppedOn(run, [reason, ...also]);
  });

  it('the board dies during `exercise --count`: the run stops at once and says why once', async () => {
    const run = await runWithFault('versal', 'die@EVENT_USED', ['exercise', '--count', '1000']);
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(linesMatching(run, /doorbell socket/), run.text).toBe(1);
    // Rounds after the loss are not attempted one by one (each would print its own failure).
    expect(linesMatching(run, /round \d+/), run.text).toBeLessThanOrEqual(2);
    expectCleanText(run);
  });

  it('the board truncates the shared file: an error that says it shrank, not SIGBUS', async () => {
    const run = await runWithFault('versal', 'truncate@EVENT_USED', CAPTURE);
    expect(run.signal, `killed by ${run.signal} (a mapping that shrank under the workbench); ${run.text}`).toBe(null);
    expect(run.code, run.text).not.toBe(135);
    expectStoppedOn(run, [/shrank/]);
  });

  // The device goes on serving its virtqueues, so the workloads may still succeed (exit 0); what
  // matters is that the corruption is reported, with expected vs seen, and marked in the capture.
  describe('queue and ring corruption: named with expected vs seen, an ERROR marker, no crash', () => {
    function expectReported(run: FaultRun, says: RegExp[]): void {
      expect([0, 1], `exit status; ${run.text}`).toContain(run.code);
      for (const re of says) expect(run.text).toMatch(re);
      // The session may go on after it; the capture says where it happened.
      expect(markers(run).filter((m) => m.kind === 'error' && says[0]!.test(m.text)), JSON.stringify(markers(run))).not.toEqual([]);
      expectCaptureHoldsPublished(run);
      expectCleanText(run);
    }

    it('the board’s producer index jumps past the ring (N = 63)', async () => {
      const run = await runWithFault('qemu', 'index-range@EVENT_USED', CAPTURE);
      expect(producerMove(run).to).toBe(68);
      expectReported(run, [/index 68\b/, /0\.\.62/]);
    });

    it('the board’s producer index moves backwards', async () => {
      const run = await runWithFault('versal', 'index-back=3@EVENT_USED', CAPTURE);
      const { from, to } = producerMove(run);
      expect(to).toBe((from + 63 - 3) % 63);
      // The workbench had read every slot up to `from`, so a producer index moved back by 3 reads
      // exactly as 60 new messages would (indices are slot numbers in 0..N-1; docs/amp-bus.md §4.1): no
      // driver can tell them apart. What it can say truthfully is what those 60 slots held, the
      // old zeroed slots read as malformed messages. A move back while messages are still unread
      // is refused by name ("moved backwards from …"): test/unit/bus/drain.test.ts.
      expect(run.code, run.text).toBe(1);
      expectReported(run, [/device-to-driver .* at byte 6: msg_size 0 is smaller than the 8-byte header/, /bus problem: /, /seen \d+ times/]);
    });

    it('a torn slot: index published with only the first 4 bytes written', async () => {
      const run = await runWithFault('versal', 'torn@EVENT_USED', CAPTURE);
      // The driver sees an EVENT_USED header with msg_size 0.
      expectReported(run, [/EVENT_USED/, /msg_size/, /byte 6/]);
    });

    it.each([
      // Queue size 128: id 135; the rng's 32-byte buffer: len 1 MiB.
      ['an id past the queue size', 'bad-used=0@EVENT_USED', /\bid 135\b/, [/\bid\b/, /\b128\b/, /\b135\b/]],
      ['a len larger than the buffer', 'bad-used=1@EVENT_USED', /\blen 1048576\b/, [/\blen\b/, /\b32\b/, /\b1048576\b/]],
    ])('a used-ring entry with %s', async (_what, fault, written, said) => {
      const run = await runWithFault('versal', fault, CAPTURE);
      expect(run.simLog).toMatch(written);
      expectStoppedOn(run, [/used ring/, ...said]);
    });
  });

  it('DEVICE_NEEDS_RESET set mid-session is reported by name', async () => {
    const run = await runWithFault('versal', 'needs-reset=0@EVENT_USED', CAPTURE);
    // The device's queues are gone, so its workload fails.
    expect(run.code, `exit status; ${run.text}`).toBe(1);
    expect(run.text).toMatch(/DEVICE_NEEDS_RESET/);
    expectCaptureHoldsPublished(run);
    expectCleanText(run);
  });

  describe('floods: recorded, survived, the workloads still succeed', () => {
    it('2000 EVENT_USED with nothing new in the used ring', async () => {
      const run = await runWithFault('versal', 'event-flood=2000@EVENT_USED', SHORT);
      expect(run.published.filter((p) => p.direction === 'device-to-driver').length).toBeGreaterThan(2000);
      expectSurvived(run);
    });

    it('5000 doorbells with nothing queued', async () => {
      expectSurvived(await runWithFault('qemu', 'doorbell-flood=5000@EVENT_USED', SHORT));
    });
  });
});
