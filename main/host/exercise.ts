/**
 * Device workloads run K times against a board brought up to DRIVER_OK: i2c write-then-read
 * verified against the target RAM, rng reads, console echo. Latency is per workload round
 * (request published → result read back), in microseconds.
 */
import { CONSOLE_RECEIVEQ, CONSOLE_TRANSMITQ, consoleEcho } from '../../src/devices/console';
import { I2C_REQUESTQ, i2cWrite, i2cWriteRead } from '../../src/devices/i2c';
import { RNG_REQUESTQ, rngRead } from '../../src/devices/rng';
import type { WorkloadResult } from '../../src/devices/workload';
import { DEVICE_ID } from '../../src/protocol/names';
import { toHex } from '../../src/util/hex';
import type { Session } from './session';

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
  latencyUs: LatencySummary;
  /** The first few failures, each saying expected vs seen. */
  errors: string[];
}

export interface ExerciseReport {
  board: string;
  devices: DeviceExercise[];
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
    if (state.phase !== 'ready') {
      devices.push({ ...base, workload: '-', ok: 0, failed: opts.count, latencyUs: summarize([]), errors: [`device not at DRIVER_OK (${state.phase}): ${state.error ?? ''}`] });
      continue;
    }
    const w = workloadFor(session, state.devNum, state.deviceId);
    if (!w) continue;
    const samples: number[] = [];
    const errors: string[] = [];
    let failed = 0;
    for (let i = 0; i < opts.count; i++) {
      const t0 = session.runtime.monoNs();
      let error: string | null;
      try {
        error = await w.round(i);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      samples.push(Number(session.runtime.monoNs() - t0) / 1000);
      if (error) {
        failed++;
        if (errors.length < MAX_ERRORS) errors.push(`round ${i}: ${error}`);
      }
    }
    devices.push({ ...base, workload: w.name, ok: opts.count - failed, failed, latencyUs: summarize(samples), errors });
  }
  return { board: session.profile.id, devices };
}
