/**
 * The bus a board profile describes, attached for one role: the queue format at its place in
 * the bus window (handshake included) and a bus endpoint over it speaking the profile's revision.
 * The workbench's session (driver) and the simulated boards (device) both start here.
 */
import type { BoardProfile } from '../api/boardProfile';
import { BusEndpoint, type EndpointObserver } from '../bus/endpoint';
import { attachQueue } from '../bus/formats/index';
import type { DoorbellIn, DoorbellOut, Link } from '../bus/link';
import type { AttachStage, BusRole, MessageQueue, QueueFormat, QueueProblem } from '../bus/queue';
import { SubWindow, type MemoryWindow } from '../bus/window';
import type { Revision } from '../protocol/types';
import { ok, type Fail, type Ok } from '../util/result';
import type { Runtime } from '../util/runtime';
import { queueGeometry } from './geometry';

export interface BusEnds {
  busWindow: MemoryWindow;
  doorbellOut: DoorbellOut;
  doorbellIn: DoorbellIn;
}

export interface ProfileBusOptions {
  runtime: Runtime;
  /** Handshake poll interval. */
  pollMs: number;
  /** Stage timeouts where the profile gives none. */
  defaultTimeoutMs: number;
  onStage?: ((stage: AttachStage, detail: string) => void) | undefined;
  observer?: EndpointObserver | undefined;
  /** AttachOptions.rearming. */
  rearming?: boolean | undefined;
}

export interface AttachedBus {
  queue: MessageQueue;
  endpoint: BusEndpoint;
  revision: Revision;
  /** What the handshake noticed but could live with. */
  findings: QueueProblem[];
}

/** The attached bus, or why not; a queue problem also as the value it was, for the trace. */
export type ProfileBus = Ok<AttachedBus> | (Fail & { problem?: QueueProblem });

export async function attachProfileBus(profile: BoardProfile, role: BusRole, ends: BusEnds, opts: ProfileBusOptions): Promise<ProfileBus> {
  const geometry = queueGeometry(profile);
  if (!geometry.ok) return { ok: false, error: `profile ${profile.id}: ${geometry.error.field}: ${geometry.error.message}` };
  const timeouts = profile.bus.timeouts ?? {};
  const attached = await attachQueue(profile.bus.format as QueueFormat, role, ends.busWindow, geometry.value, {
    runtime: opts.runtime,
    layoutTimeoutMs: timeouts.layoutMs ?? opts.defaultTimeoutMs,
    peerTimeoutMs: timeouts.peerMs ?? opts.defaultTimeoutMs,
    pollMs: opts.pollMs,
    ...(opts.onStage ? { onStage: opts.onStage } : {}),
    ...(opts.rearming ? { rearming: true } : {}),
  });
  if (!attached.ok) {
    const p = attached.error;
    return { ok: false, problem: p, error: `${p.code} at bus offset 0x${p.offset.toString(16)}: ${p.reason}` };
  }
  const revision = profile.bus.revision as Revision;
  const endpoint = new BusEndpoint({
    queue: attached.value,
    doorbellOut: ends.doorbellOut,
    doorbellIn: ends.doorbellIn,
    revision,
    runtime: opts.runtime,
    ...(opts.observer ? { observer: opts.observer } : {}),
  });
  return ok({ queue: attached.value, endpoint, revision, findings: attached.findings });
}

/**
 * The bus area and the data memory a link hands the engine, cut from the windows it opened for
 * the profile's regions (every link does this the same way, whatever carries the bytes).
 */
export function profileWindows(profile: BoardProfile, region: (name: string) => MemoryWindow): Pick<Link, 'busWindow' | 'dataWindow' | 'dataPeerBase'> {
  return {
    busWindow: new SubWindow(region(profile.bus.region), profile.bus.offset, profile.bus.size),
    dataWindow: new SubWindow(region(profile.dataMemory.region), 0, profile.dataMemory.size),
    dataPeerBase: profile.dataMemory.peerBase,
  };
}
