/**
 * Device workloads run K times against a board brought up to DRIVER_OK: each device type's
 * `exercise` round from its descriptor (i2c write-then-read verified against the target RAM,
 * rng reads, console echo). Latency is per round (request published → result read back), in
 * microseconds, over the rounds that succeeded: a failed round's time says how long the failure
 * took, not how fast the device is. Once the session ends (link lost, the board stopped its bus,
 * Ctrl-C) no further round runs.
 */
import { deviceDescriptor } from '../../src/devices/registry';
import type { QueueContext } from '../../src/devices/workload';
import { errorText } from '../../src/util/errorText';
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

const MAX_ERRORS = 5;

export function summarize(samplesUs: number[]): LatencySummary {
  if (samplesUs.length === 0) return { p50: 0, p99: 0, max: 0, mean: 0 };
  const s = [...samplesUs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** The round of the device's type, over its queues; null for a type without one. */
function workloadFor(session: Session, devNum: number, deviceId: number): { name: string; round: (i: number) => Promise<string | null> } | null {
  const descriptor = deviceDescriptor(deviceId);
  const exercise = descriptor?.exercise;
  if (!exercise) return null;
  // Every queue is looked up once, before the first round: a queue not set up fails the device here.
  const queues: QueueContext[] = (descriptor.driver?.queues ?? []).map((_, index) => {
    const c = session.driver.queueContext(devNum, index);
    if (!c.ok) throw new Error(c.error);
    return c.value;
  });
  const queueAt = (index: number): QueueContext => {
    const q = queues[index];
    if (!q) throw new RangeError(`${exercise.name} asked for queue ${index}, the ${descriptor.name} driver sets up ${queues.length}`);
    return q;
  };
  return { name: exercise.name, round: (i) => exercise.round(queueAt, i) };
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
