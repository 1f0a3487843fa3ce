/**
 * What the workbench knows of one virtio device type, in one place: its queues and feature bits,
 * what its driver negotiates, its config layout, the simulated device, and the workloads a user
 * or `exercise` runs against it. Every consumer (driver, config decoding, simulator, profile
 * schema, API, service, UI) reads descriptors through the registry (./registry).
 */
import { z } from 'zod';

import type { ConfigFieldSpec } from './config';
import type { DeviceModel, ModelOptions } from './model';
import type { Result } from '../util/result';
import type { QueueContext } from './workload';

/** A device's virtqueue at DRIVER_OK by index (the descriptor's queue order); throws when it is not set up. */
export type QueueAt = (index: number) => QueueContext;

/** What a workload hands back: the bytes the device returned, one entry per read (none for a write). */
export type WorkloadReads = Result<Uint8Array[]>;

/** One workload a user runs from the API or the UI (`device.workload`). */
export interface WorkloadSpec<Kind extends string = string, Params extends z.ZodType = z.ZodType> {
  /** The request's `kind`, unique across all device types. */
  kind: Kind;
  /** What the request's params must be; the API validates them with this before `run` sees them. */
  params: Params;
  /** What a form starts with (as a caller would send it); parses with `params`. */
  defaults: z.input<Params>;
  run(queueAt: QueueAt, params: z.output<Params>): Promise<WorkloadReads>;
}

/**
 * `workload({...})` types `run` and `defaults` by its own params schema and keeps the literal
 * kind, from which the API infers its request types. (`run` is a method, so a spec still fits
 * the registry's WorkloadSpec: the API parses a request's params with `params` before `run`.)
 */
export function workload<const Kind extends string, Params extends z.ZodType>(spec: WorkloadSpec<Kind, Params>): WorkloadSpec<Kind, Params> {
  return spec;
}

/** The repeated round `exercise` runs: an error text, or null when the round succeeded. */
export interface ExerciseSpec {
  name: string;
  round(queueAt: QueueAt, round: number): Promise<string | null>;
}

/** What the driver sets up for the type; a type without one is acknowledged and left without a driver. */
export interface DriverPlan {
  /** Queue names in index order. */
  queues: readonly string[];
  /** Device-specific feature bits the driver accepts when offered. */
  accepts: readonly number[];
  /** Bits the driver must see offered, or it fails the device. */
  requires: readonly number[];
}

/** What a simulated device of the type is built from: ModelOptions plus the profile's seed. */
export type SimModelOptions = ModelOptions & { seed: number };

export interface DeviceDescriptor {
  /** Virtio device type id (GET_DEVICE_INFO device_id): the registry's key. */
  id: number;
  /** Short name of the type (as in the Appendix A names table): profiles' simulated `kind`, feature names' infix. */
  name: string;
  /** Device-specific feature bits by key; the name of bit `b` is VIRTIO_<NAME>_F_<key>. */
  features: Readonly<Record<string, number>>;
  /** Config space fields; empty for a type without config space. */
  config: readonly ConfigFieldSpec[];
  driver?: DriverPlan;
  /** A simulated device of the type (the profile's `sim.devices[].kind` names it). */
  model?: (options: SimModelOptions) => DeviceModel;
  workloads: readonly WorkloadSpec[];
  exercise?: ExerciseSpec;
}

/** Byte runs as hex digit pairs ("0a1b…"; spaces allowed), decoded to bytes. */
export const hexBytesParam = z
  .string()
  .max(8192)
  .regex(/^(\s*[0-9a-fA-F]{2})*\s*$/, 'expected hex bytes such as "0a 1b 2c"')
  .transform((s) => Uint8Array.from(s.match(/[0-9a-fA-F]{2}/g) ?? [], (h) => parseInt(h, 16)));
