/**
 * The serial bridge's ring tap end to end: the real C agent serving a shared file on one end of
 * a socat pty pair, a producer writing a ring in that file from a process of its own, and the
 * workbench's BridgeRingTap on the other end, directly or through a relay that drops and
 * corrupts frames or keeps a 2 Mbaud UART's pace. What the tap delivers is checked against what
 * the producer published: every message once and in order when none can be lost, no torn slot
 * and exact lost counts when the line cannot keep up and the agent's buffer overflows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { QueueProblem } from '../../src/bus/queue';
import type { TapBatch, TapRing } from '../../src/bus/tap';
import type { BridgeClient } from '../../src/serialBridge/client';
import { BridgeRingTap } from '../../src/serialBridge/tap';
import { openSerialBridge } from '../../main/host/links/serialBridge';
import { nodeRuntime } from '../../main/host/runtime';
import { loadNative } from '../../main/native/index';
import { buildAgent, missingTools, ptyPair, relay, startAgent, tempDir } from './bridgeRig';
import { accountFor, CONSUMER, produce, ring, ringFile, seqs, SLOT, SLOTS, stopProducers } from './ringProducer';

const SRAM = 0x10040000;
const SIZE = 0x8000;
const native = loadNative();
const skip = missingTools ?? (native.ok ? null : native.error);
/** As root, the agent follows the rings at a real-time priority: this machine may be busy with other work. */
const REALTIME = process.getuid?.() === 0 ? ['--realtime'] : [];

const stoppers: (() => Promise<void>)[] = [];
afterEach(async () => {
  stopProducers();
  for (const s of stoppers.splice(0).reverse()) await s();
});

let dir: ReturnType<typeof tempDir>;
let agentBin = '';
beforeAll(() => {
  if (skip) return;
  dir = tempDir('bridge-tap-');
  agentBin = buildAgent(dir.path);
});
afterAll(() => dir?.remove());

/** A ring file served by an agent on a pty pair; `lossy`/`bytesPerSecond` put a relay in between. Returns the host end's path. */
async function served(name: string, n: number, line: { lossy?: boolean; bytesPerSecond?: number } = {}): Promise<{ file: string; tty: string }> {
  const file = ringFile(dir.path, `${name}.bin`, n, SIZE);
  const near = await ptyPair(dir.path, `${name}-near`);
  stoppers.push(() => near.stop());
  const a = await startAgent(agentBin, near.a, ['--mem', file, '--window', `${SRAM}:${SIZE}`, ...REALTIME]);
  stoppers.push(() => a.stop());
  if (!line.lossy && !line.bytesPerSecond) return { file, tty: near.b };
  const far = await ptyPair(dir.path, `${name}-far`);
  stoppers.push(() => far.stop());
  const r = await relay(near.b, far.a, { drop: line.lossy ? 0.05 : 0, flip: line.lossy ? 0.05 : 0, seed: 20261207, ...(line.bytesPerSecond ? { bytesPerSecond: line.bytesPerSecond } : {}) });
  stoppers.push(() => r.close());
  return { file, tty: far.b };
}

async function bridge(tty: string, opts: { timeoutMs?: number; retries?: number } = {}) {
  const b = await openSerialBridge(tty, { baudRate: 2_000_000, ...opts });
  stoppers.push(() => b.close());
  return b;
}

/** Follows `rings`; the test is the ring's consumer when `consume` says where, freeing slots only once delivered. */
function follow(client: BridgeClient, rings: TapRing[], consume?: { file: string; n: number }) {
  const tap = new BridgeRingTap(client, { runtime: nodeRuntime, base: BigInt(SRAM) });
  const batches: TapBatch[] = [];
  const problems: QueueProblem[] = [];
  const m = consume && native.ok ? native.value.map(consume.file, 0, SLOTS + consume.n * SLOT) : null;
  tap.start(
    rings,
    (b) => {
      batches.push(b);
      if (m && consume && b.count > 0) m.store(CONSUMER, 32, (b.first + b.count) % consume.n);
    },
    (p) => problems.push(p),
  );
  return { tap, batches, problems };
}

const messages = (batches: TapBatch[]) => batches.flatMap((b) => seqs(b));
const until = async (done: () => boolean) => {
  while (!done()) await new Promise((r) => setTimeout(r, 2));
};

describe.skipIf(skip !== null)(`serial bridge ring tap over pty pairs${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('delivers every message of another process once and in order, with host times', async () => {
    const n = 16;
    const { file, tty } = await served('exact', n);
    const b = await bridge(tty);
    const t0 = process.hrtime.bigint();
    const { tap, batches, problems } = follow(b.client, [ring(n)], { file, n });
    await until(() => b.client.stats.requests >= 3); // HELLO, TAP answered, TAP_READ sent: armed
    const total = await produce(file, n, 3000, 'wait');
    await tap.stop();
    const t1 = process.hrtime.bigint();
    expect(problems).toEqual([]);
    expect(messages(batches)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(batches.filter((x) => x.lost !== 0 || x.ring !== 0 || x.slots.length !== x.count * SLOT)).toEqual([]);
    expect(batches.filter((x) => x.seenNs < t0 || x.seenNs > t1).map((x) => [t0, x.seenNs, t1])).toEqual([]);
    expect(batches.filter((x, i) => i > 0 && x.seenNs < batches[i - 1]!.seenNs).length).toBe(0);
    let seq = 0;
    for (const x of batches) {
      expect(x.first).toBe(seq % n);
      seq += x.count;
    }
  });

  it('through a relay that drops and corrupts frames, still every message once and in order', async () => {
    const n = 16;
    const { file, tty } = await served('lossy', n, { lossy: true });
    const b = await bridge(tty, { timeoutMs: 40, retries: 25 });
    const { tap, batches, problems } = follow(b.client, [ring(n)], { file, n });
    await until(() => b.client.stats.requests >= 3); // HELLO, TAP answered, TAP_READ sent
    const total = await produce(file, n, 1500, 'wait');
    await tap.stop();
    expect(problems).toEqual([]);
    expect(messages(batches)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(batches.every((x) => x.lost === 0)).toBe(true);
    // The line really failed, and nothing was lost for it.
    expect(b.client.stats.retransmits).toBeGreaterThan(0);
    expect(b.client.stats.badFrames).toBeGreaterThan(0);
  });

  // The rate the line carries is the bench's (test/bench/ringTap.bench.ts); this checks, below it
  // and with room for a busy test machine, that nothing is lost on the way.
  it('at a 2 Mbaud pace the agent follows 1500 messages/s whose consumer frees each slot at once', async () => {
    // A ring of 256 slots: the agent process must not be starved for a lap of it (128 ms here) on a loaded test machine.
    const n = 256;
    const { file, tty } = await served('paced', n, { bytesPerSecond: 200_000 });
    const b = await bridge(tty);
    const { tap, batches, problems } = follow(b.client, [ring(n)]);
    await until(() => b.client.stats.requests >= 3); // HELLO, TAP answered, TAP_READ sent
    const total = await produce(file, n, 3000, 'self', 1500);
    await tap.stop();
    expect(problems).toEqual([]);
    expect(messages(batches)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(batches.every((x) => x.lost === 0)).toBe(true);
  });

  it('when the line cannot carry what the producer publishes: the agent counts exactly what found no room, and no slot is torn', async () => {
    // 5000 msg/s of 76-byte entries is 380 000 bytes/s for a line of 200 000: the agent's buffer fills.
    const n = 256;
    const { file, tty } = await served('outrun', n, { bytesPerSecond: 200_000 });
    const b = await bridge(tty);
    const { tap, batches, problems } = follow(b.client, [ring(n)]);
    await until(() => b.client.stats.requests >= 3);
    const total = await produce(file, n, 10_000, 'self', 5000);
    await tap.stop();
    expect(problems).toEqual([]);
    const { delivered, lost, exact, problems: wrong } = accountFor(batches, n, total);
    expect(wrong).toEqual([]);
    expect(lost).toBeGreaterThan(0);
    expect(delivered + lost).toBe(total);
    expect(exact).toBeGreaterThan(0);
  });

  it('follows two rings in one stream, device-to-driver first, and says what it cannot tap or read', async () => {
    const n = 4;
    const { file, tty } = await served('two', n);
    const b = await bridge(tty);
    const up: TapRing = { ...ring(n), direction: 'device-to-driver', producer: { offset: 8, width: 32 }, consumer: { offset: 12, width: 32 }, slots: { offset: 0x400, slots: n, slotSize: SLOT, stride: SLOT } };
    const { tap, batches, problems } = follow(b.client, [ring(n), up]);
    await until(() => b.client.stats.requests >= 4);
    const m = native.ok ? native.value.map(file, 0, SIZE) : null;
    m!.write(0x400, new Uint8Array(new Uint32Array(SLOT / 4).fill(77).buffer));
    m!.write(SLOTS, new Uint8Array(new Uint32Array(SLOT / 4).fill(5).buffer));
    m!.store(8, 32, 1);
    m!.store(0, 32, 1);
    await until(() => batches.length >= 2);
    m!.store(8, 32, 7); // outside 0..3
    await until(() => problems.length > 0);
    await tap.stop();
    // Published in one look: the device's message is delivered first, with the same time.
    expect(batches.map((x) => [x.ring, x.first, x.count, x.lost, seqs(x)[0]])).toEqual([
      [1, 0, 1, 0, 77],
      [0, 0, 1, 0, 5],
    ]);
    expect(batches[0]!.seenNs).toBe(batches[1]!.seenNs);
    expect(problems).toEqual([{ code: 'peer-index', offset: 8, reason: 'device-to-driver producer index 7 at 0x0008 is outside 0..3 (N = 4); its slots are not read until it is back in range' }]);

    // Slots past the agent's window: refused, in words naming the ring and the address.
    const far: TapRing = { ...ring(n), slots: { offset: SIZE - SLOT, slots: n, slotSize: SLOT, stride: SLOT } };
    const refused = follow(b.client, [far]);
    await until(() => refused.problems.length > 0);
    await refused.tap.stop();
    expect(refused.problems).toEqual([
      {
        code: 'layout',
        offset: 0,
        reason: `the bridge agent cannot tap: serial port ${tty}: agent refused TAP ring 0 (producer index at 0x10040000, 4 slots at 0x10047fc0): OUT_OF_RANGE: range runs past the end of its window or over the maximum payload (at 0x10047fc0)`,
      },
    ]);
    expect(refused.batches).toEqual([]);
  });
});
