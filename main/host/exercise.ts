/**
 * Device workloads run K times against a board brought up to DRIVER_OK: i2c write-then-read
 * verified against the target RAM, rng reads, console echo. Latency is per workload round
 * (request published → result read back), in microseconds, over the rounds that succeeded: a
 * failed round's time says how long the failure took, not how fast the device is. Once the
 * session ends (link lost, the board stopped its bus, Ctrl-C) no further round runs.
 */
import { CONSOLE_RECEIVEQ, CONSOLE_TRANSMITQ, consoleEcho } from '../../src/devices/console';
import { I2C_REQUESTQ, i2cWrite, i2cWriteRead } from '../../src/devices/i2c';
import { RNG_REQUESTQ, rngRead } from '../../src/devices/rng';
import type { WorkloadResult } from '../../src/devices/workload';
import { DEVICE_ID } from '../../src/protocol/names';
import { toHex } from '../../src/util/hex';
import type { Session } from './session';
import { errorText } from '../../src/util/errorText';

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface DeviceExercise {
  devNum: number;
  deviceType: string;
  workload: string;
  count: number;
  ok: number;
  failed: number;
  /** Rounds never run: the device was not at DRIVER_OK, or the session ended first. */
  notRun: number;
  /** Over the rounds that succeeded only. */
  latencyUs: LatencySummary;
  /** The first failure and the first few that differ from it, each saying expected vs seen. */
  errors: string[];
}

export interface ExerciseReport {
  board: string;
  devices: DeviceExercise[];
  /** Why the rounds stopped before all ran (the session's end: link lost, interrupted); null when they all ran. */
  stopped: string | null;
}

/** The I2C RAM targets of the ST demo: 20 bytes each at 0x54 and 0x56. */
const I2C_TARGETS = [0x54, 0x56];
const I2C_RAM_SIZE = 20;
const MAX_ERRORS = 5;

export function summarize(samplesUs: number[]): LatencySummary {
  if (samplesUs.length === 0) return { p50: 0, p99: 0, max: 0, mean: 0 };
  const s = [...samplesUs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** One round per device type; null for a type without a workload. */
function workloadFor(session: Session, devNum: number, deviceId: number): { name: string; round: (i: number) => Promise<string | null> } | null {
  const ctx = (queue: number) => {
    const c = session.driver.queueContext(devNum, queue);
    if (!c.ok) throw new Error(c.error);
    return c.value;
  };
  /** A workload's result as the round's error text, or null when it succeeded. */
  const check = async (r: Promise<WorkloadResult>): Promise<string | null> => {
    const v = await r;
    return v.ok ? null : v.error;
  };
  if (deviceId === DEVICE_ID.I2C) {
    const q = ctx(I2C_REQUESTQ);
    return {
      name: 'i2c write-then-read',
      round: async (i) => {
        const target = I2C_TARGETS[i % I2C_TARGETS.length]!;
        const reg = i % I2C_RAM_SIZE;
        const len = 1 + (i % 4);
        const data = Uint8Array.from({ length: len }, (_, k) => (i * 7 + k * 13) & 0xff);
        const w = await check(i2cWrite(q, target, Uint8Array.of(reg, ...data)));
        if (w) return `write to 0x${target.toString(16)}: ${w}`;
        const r = await i2cWriteRead(q, target, Uint8Array.of(reg), len);
        if (!r.ok) return `write-then-read at 0x${target.toString(16)}: ${r.error}`;
        // Writes and reads wrap the RAM's address pointer alike, so the bytes come back as written.
        if (toHex(r.data) !== toHex(data)) return `0x${target.toString(16)} register ${reg}: wrote ${toHex(data)}, read back ${toHex(r.data)}`;
        return null;
      },
    };
  }
  if (deviceId === DEVICE_ID.RNG) {
    const q = ctx(RNG_REQUESTQ);
    return {
      name: 'rng read 32 bytes',
      round: async () => {
        const r = await rngRead(q, 32);
        if (!r.ok) return r.error;
        return r.bytes.length === 32 ? null : `asked for 32 random bytes, got ${r.bytes.length}`;
      },
    };
  }
  if (deviceId === DEVICE_ID.CONSOLE) {
    const rx = ctx(CONSOLE_RECEIVEQ);
    const tx = ctx(CONSOLE_TRANSMITQ);
    return {
      name: 'console echo',
      round: async (i) => {
        const text = Uint8Array.from(`ping ${i}\n`, (c) => c.charCodeAt(0));
        // consoleEcho compares the echo with what was sent and says where they differ.
        return check(consoleEcho(tx, rx, text));
      },
    };
  }
  return null;
}

export async function exerciseDevices(session: Session, opts: { devNum?: number | undefined; count: number }): Promise<ExerciseReport> {
  const devices: DeviceExercise[] = [];
  for (const state of session.driver.states()) {
    if (opts.devNum !== undefined && state.devNum !== opts.devNum) continue;
    const base = { devNum: state.devNum, deviceType: state.deviceType, count: opts.count };
    const none = { ok: 0, failed: 0, notRun: opts.count, latencyUs: summarize([]) };
    if (state.phase !== 'ready') {
      devices.push({ ...base, workload: '-', ...none, errors: [`device not at DRIVER_OK (${state.phase}): ${state.error ?? ''}`] });
      continue;
    }
    const w = workloadFor(session, state.devNum, state.deviceId);
    if (!w) continue;
    if (session.endedBecause !== null) {
      devices.push({ ...base, workload: w.name, ...none, errors: [] });
      continue;
    }
    const samples: number[] = [];
    const errors: string[] = [];
    const seen = new Set<string>();
    let failed = 0;
    let ran = 0;
    for (; ran < opts.count && session.endedBecause === null; ran++) {
      const t0 = session.runtime.monoNs();
      let error: string | null;
      try {
        error = await w.round(ran);
      } catch (e) {
        error = errorText(e);
      }
      if (!error) {
        samples.push(Number(session.runtime.monoNs() - t0) / 1000);
        continue;
      }
      failed++;
      // A round cut off by the session's end failed for the report's `stopped` reason, said once there.
      if (session.endedBecause !== null || seen.has(error)) continue;
      if (seen.size === 0) session.recordError(`${w.name} round ${ran} failed: ${error}`, state.devNum);
      seen.add(error);
      if (errors.length < MAX_ERRORS) errors.push(`round ${ran}: ${error}`);
    }
    devices.push({ ...base, workload: w.name, ok: ran - failed, failed, notRun: opts.count - ran, latencyUs: summarize(samples), errors });
  }
  return { board: session.profile.id, devices, stopped: session.endedBecause };
}
