/**
 * The monitor's ring taps (issue 15): how fast a producer in another process may publish while a
 * tap still copies every message.
 *
 * - native: NativeRingTap (the addon's thread) over a /dev/shm file, the producer's consumer
 *   freeing each slot at once (the monitor must copy before the slot is reused). Paced rates
 *   from 200 000 msg/s up; the highest one followed without a message missed, the rate flat out,
 *   and the process CPU (tap thread and batch delivery) at 10 000 msg/s.
 * - bridge: BridgeRingTap through the C agent over a socat pty pair with a relay that keeps a
 *   2 Mbaud UART's pace (200 000 bytes/s): the rate the line carries when the bench is the
 *   ring's consumer (nothing can be lost, the line sets the pace), and paced rates from 2 000
 *   msg/s with a consumer that frees each slot at once (the agent's buffer absorbs the line):
 *   the highest one followed without a message missed.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TapBatch, RingTap } from '../../src/bus/tap';
import { BridgeRingTap } from '../../src/serialBridge/tap';
import { openSerialBridge } from '../../main/host/links/serialBridge';
import { nodeRuntime } from '../../main/host/runtime';
import { loadNative, NativeRingTap, type NativeAddon } from '../../main/native/index';
import { buildAgent, missingTools, ptyPair, relay, startAgent, tempDir } from '../host/bridgeRig';
import { accountFor, CONSUMER, produce, ring, ringFile, SLOT, SLOTS, stopProducers } from '../host/ringProducer';

const N = 64;
const BRIDGE_N = 256;
const SRAM = 0x10040000;

/** Runs the producer under a tap; what was published, delivered and lost, and the time and CPU it took. */
async function follow(
  tap: RingTap,
  n: number,
  file: string,
  count: number,
  mode: 'self' | 'wait',
  perSecond: number,
  consumer?: { store(offset: number, width: 32, value: number): void },
): Promise<{ published: number; delivered: number; lost: number; seconds: number; cpuPercent: number; wrong: number }> {
  // A fresh ring: the producer numbers its messages from 0 at index 0. Zeroed in place: the
  // file is mapped (a truncation would take the pages from under the tap and the agent).
  const fd = openSync(file, 'r+');
  writeSync(fd, new Uint8Array(SLOTS));
  closeSync(fd);
  const batches: TapBatch[] = [];
  tap.start(
    [ring(n)],
    (b) => {
      batches.push(b);
      if (consumer && b.count > 0) consumer.store(CONSUMER, 32, (b.first + b.count) % n);
    },
    () => undefined,
  );
  await new Promise((r) => setTimeout(r, 50));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const published = await produce(file, n, count, mode, perSecond);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await tap.stop();
  const account = accountFor(batches, n, published);
  return {
    published,
    delivered: account.delivered,
    lost: account.lost,
    seconds,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 1000) / 10,
    wrong: account.problems.length,
  };
}

async function native(addon: NativeAddon, dir: string): Promise<Record<string, number | string>> {
  const file = ringFile(dir, 'native.bin', N);
  const tap = () => new NativeRingTap(addon.map(file, 0, SLOTS + N * SLOT, { readOnly: true }));
  const out: Record<string, number | string> = { nativeRing: `${N} slots of ${SLOT} bytes` };
  let best = 0;
  for (const rate of [200_000, 400_000, 800_000]) {
    const r = await follow(tap(), N, file, rate, 'self', rate);
    out[`native${rate / 1000}kMissed`] = r.published - r.delivered;
    out[`native${rate / 1000}kAchievedPerSecond`] = Math.round(r.published / r.seconds);
    if (r.published === r.delivered && r.wrong === 0) best = Math.round(r.published / r.seconds);
  }
  out.nativeMaxPerSecond = best;
  const flat = await follow(tap(), N, file, 1_000_000, 'self', 0);
  out.nativeFlatOutPerSecond = Math.round(flat.published / flat.seconds);
  out.nativeFlatOutMissedPercent = Math.round(((flat.published - flat.delivered) / flat.published) * 1000) / 10;
  out.nativeFlatOutLostCounted = flat.lost;
  const idle = await follow(tap(), N, file, 20_000, 'self', 10_000);
  out.native10kMissed = idle.published - idle.delivered;
  out.native10kCpuPercent = idle.cpuPercent;
  return out;
}

async function bridge(dir: string): Promise<Record<string, number | string>> {
  const file = ringFile(dir, 'bridge.bin', BRIDGE_N);
  const size = SLOTS + BRIDGE_N * SLOT;
  const near = await ptyPair(dir, 'near');
  const far = await ptyPair(dir, 'far');
  // As root, at a real-time priority (bridge-agent --realtime), as the README advises for monitoring.
  const agent = await startAgent(buildAgent(dir), near.a, ['--mem', file, '--window', `${SRAM}:${size}`, ...(process.getuid?.() === 0 ? ['--realtime'] : [])]);
  const line = await relay(near.b, far.a, { drop: 0, flip: 0, seed: 1, bytesPerSecond: 200_000 });
  const b = await openSerialBridge(far.b, { baudRate: 2_000_000 });
  const native = loadNative();
  try {
    const tap = () => new BridgeRingTap(b.client, { runtime: nodeRuntime, base: BigInt(SRAM) });
    const consumer = native.ok ? native.value.map(file, 0, size) : undefined;
    // The bench as the ring's consumer: nothing can be lost, the line sets the pace.
    const carried = await follow(tap(), BRIDGE_N, file, 8000, 'wait', 0, consumer);
    const out: Record<string, number | string> = {
      bridgeLine: 'socat pty pairs, C agent, relay at 200 000 bytes/s (2 Mbaud 8N1)',
      bridgeRing: `${BRIDGE_N} slots of ${SLOT} bytes, 16 KiB frames`,
      bridgeCarriedPerSecond: Math.round(carried.delivered / carried.seconds),
    };
    // A consumer that frees each slot at once: the highest paced rate followed without a message missed.
    let best = 0;
    for (const rate of [2000, 2400, 2800]) {
      const r = await follow(tap(), BRIDGE_N, file, rate * 3, 'self', rate);
      out[`bridge${rate}Missed`] = r.published - r.delivered;
      out[`bridge${rate}LostCounted`] = r.lost;
      if (r.published === r.delivered && r.wrong === 0) best = Math.round(r.published / r.seconds);
    }
    out.bridge2MbaudPerSecond = best;
    out.bridgeRetransmits = b.client.stats.retransmits;
    return out;
  } finally {
    await b.close();
    await line.close();
    await agent.stop();
    await far.stop();
    await near.stop();
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const loaded = loadNative();
  if (!loaded.ok) return { skipped: loaded.error };
  const shm = readFileSync('/proc/mounts', 'utf8').includes(' /dev/shm ') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(shm, 'amp-tap-bench-'));
  const bridgeDir = tempDir('bridge-tap-bench-');
  try {
    const out = await native(loaded.value, dir);
    Object.assign(out, missingTools ? { bridgeSkipped: missingTools } : await bridge(bridgeDir.path));
    return out;
  } finally {
    stopProducers();
    rmSync(dir, { recursive: true, force: true });
    bridgeDir.remove();
  }
}
