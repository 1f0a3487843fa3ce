/**
 * Board profile: where the bytes are, how to ring and be rung, and which queue format and
 * message revision the board speaks (docs/amp-bus.md §11, schema "amp-board-profile/0"). Everything
 * a profile file says is validated here; an error names the field, what was expected and what
 * was seen.
 *
 * Extensions to the §11 proposal, because the tool needs them:
 * - `bus.revision` (r0/r2/r3/r4): "virtio-msg-r1" covers three incompatible layouts
 *   (docs/protocol.md §2, §18.1), so the profile names the one the board speaks.
 * - `access.kind: "sim"` and `sim.devices`: simulated boards are profiles too.
 * - region source `{shm: offset}`: a place in the shared memory an ivshmem-server hands out.
 */
import { z } from 'zod';

import { describeValue, expectedText, fieldName, valueAt } from './issues';
import { scanJson, type JsonPath } from './jsonLocate';

import { QUEUE_FORMATS } from '../bus/queue';
import { SIMULATED_DEVICE_NAMES } from '../devices/registry';
import { MIN_BUS_MSG_SIZE, PRACTICAL_MIN_BUS_MSG_SIZE } from '../protocol/index';
import { REVISIONS, type Revision } from '../protocol/types';
import { PEERS } from '../trace/conformance';
import { hexNum } from '../util/hex';
import type { Result } from '../util/result';

/**
 * The largest region a simulated board can have: the simulator allocates every region in RAM
 * (a SharedArrayBuffer, or the shm file of `sim --shm`) and sizes its typed-array views in 32-bit
 * arithmetic, so 4 GiB and more cannot work, and a few GiB already cost that much memory.
 */
export const SIM_MAX_REGION_BYTES = 0x4000_0000;
/** The longest timeout a timer can wait (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMEOUT_MS = 0x7fff_ffff;

const NUMBER_TEXT = 'a non-negative integer or a "0x…" hex string';

/** A number in a profile: JSON number or a "0x…"/decimal string (strings when > 2^53). */
const bigNumber = z
  .union([z.number().int().nonnegative(), z.string().regex(/^(0x[0-9a-fA-F]+|[0-9]+)$/, `expected ${NUMBER_TEXT}`)], { error: `expected ${NUMBER_TEXT}` })
  .transform((v) => BigInt(v));

const smallNumber = bigNumber.transform((v, ctx) => {
  if (v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  ctx.addIssue({ code: 'custom', message: `expected at most 2^53 − 1 (${Number.MAX_SAFE_INTEGER}), saw ${v}` });
  return z.NEVER;
});

/** A size in bytes: at least one. */
const byteSize = smallNumber.refine((v) => v > 0, 'expected at least 1 byte, saw 0');

/** A timeout in milliseconds: at least 1 ms, at most what a timer can wait. */
const timeoutMs = z.number().transform((v, ctx) => {
  if (v >= 1 && v <= MAX_TIMEOUT_MS) return v;
  const expected = v < 1 ? 'at least 1 ms' : `at most ${MAX_TIMEOUT_MS} ms (about 24.8 days, the longest a timer waits)`;
  ctx.addIssue({ code: 'custom', message: `expected ${expected}, saw ${v}` });
  return z.NEVER;
});

const accessWidth = z.literal([8, 16, 32, 64]);

const REGION_SOURCES =
  '{"sysfsResource": N}, {"uioMap": N}, {"vfioRegion": N}, {"file": PATH, "offset"?}, {"bridgeAddr": ADDR}, ' +
  '{"vfioDma": {"iova": ADDR}}, {"sim": NAME}, {"shm": OFFSET}, {"pciBar": N} or {"guestPhys": ADDR}';

const regionSource = z.union(
  [
    z.object({ sysfsResource: z.number().int().min(0).max(5), wc: z.boolean().optional() }).strict(),
    z.object({ uioMap: z.number().int().min(0) }).strict(),
    z.object({ vfioRegion: z.number().int().min(0) }).strict(),
    z.object({ file: z.string().min(1), offset: smallNumber.optional() }).strict(),
    z.object({ bridgeAddr: bigNumber }).strict(),
    z.object({ vfioDma: z.object({ iova: bigNumber }).strict() }).strict(),
    z.object({ sim: z.string().min(1) }).strict(),
    // Offset in the shared memory the link is handed (access kind "ivshmem-server": the server's fd).
    z.object({ shm: smallNumber }).strict(),
    // Reached through QEMU's qtest socket (access kind "qtest"): a BAR of the PCI function the link
    // assigns, or a guest-physical range of guest RAM.
    z.object({ pciBar: z.number().int().min(0).max(5) }).strict(),
    z.object({ guestPhys: bigNumber }).strict(),
  ],
  { error: `expected one of the region sources ${REGION_SOURCES}` },
);

const region = z
  .object({
    name: z.string().min(1),
    source: regionSource,
    size: byteSize,
    mapping: z.enum(['uc', 'wc', 'cached']).optional(),
    accessWidths: z.array(accessWidth).optional(),
    peerAddress: bigNumber.optional(),
  })
  .strict();

const registerWrite = z
  .object({
    region: z.string(),
    offset: smallNumber,
    width: accessWidth,
    value: z.union([smallNumber, z.string().startsWith('$')], { error: `expected ${NUMBER_TEXT}, or a "$…" reference such as "$dataMemory.iova.lo"` }),
  })
  .strict();

const doorbellOut = z
  .object({
    kind: z.enum(['mmio-write', 'mmio-pulse', 'ivshmem', 'ipcc', 'bridge-notify', 'fifo', 'sim']),
    region: z.string().optional(),
    offset: smallNumber.optional(),
    width: accessWidth.optional(),
    value: smallNumber.optional(),
    readBack: z.boolean().optional(),
    pulse: z.object({ values: z.array(smallNumber), delayUs: z.number().nonnegative() }).strict().optional(),
  })
  .strict();

type DoorbellInShape = {
  kind: 'vfio-msix' | 'vfio-intx' | 'uio' | 'poll' | 'bridge-event' | 'eventfd' | 'fifo' | 'sim';
  vector?: number | undefined;
  rearm?: 'none' | 'uio-write-1' | 'pci-cmd-intx' | undefined;
  source?: { region: string; offset: number; mask: number } | undefined;
  ack?: z.infer<typeof registerWrite>[] | undefined;
  pollIntervalMs?: number | undefined;
  fallback?: DoorbellInShape | undefined;
};
const doorbellIn: z.ZodType<DoorbellInShape> = z.lazy(() =>
  z
    .object({
      kind: z.enum(['vfio-msix', 'vfio-intx', 'uio', 'poll', 'bridge-event', 'eventfd', 'fifo', 'sim']),
      vector: z.number().int().min(0).optional(),
      rearm: z.enum(['none', 'uio-write-1', 'pci-cmd-intx']).optional(),
      source: z.object({ region: z.string(), offset: smallNumber, mask: smallNumber }).strict().optional(),
      ack: z.array(registerWrite).optional(),
      pollIntervalMs: z.number().positive().optional(),
      fallback: doorbellIn.optional(),
    })
    .strict(),
) as z.ZodType<DoorbellInShape>;

export const boardProfileSchema = z
  .object({
    schema: z.literal('amp-board-profile/0'),
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected lower-case letters, digits, ".", "_" or "-"'),
    description: z.string(),
    hostRole: z.enum(['driver', 'device']),
    /** A known peer whose known deviations the conformance findings report as info (conformance.ts QUIRKS). */
    peer: z.enum(PEERS).optional(),
    pci: z
      .object({
        vendor: smallNumber,
        device: smallNumber,
        bdf: z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/, 'expected a BDF like 0000:00:03.0').optional(),
        enableMemory: z.boolean().optional(),
        enableBusMaster: z.boolean().optional(),
      })
      .strict()
      .optional(),
    access: z
      .object({
        kind: z.enum(['sysfs-pci', 'vfio-pci', 'uio', 'file', 'bridge', 'ivshmem-server', 'qtest', 'sim']),
        transport: z.enum(['serial', 'tcp']).optional(),
        path: z.string().optional(),
        baud: z.number().int().positive().optional(),
        framing: z.string().optional(),
        agent: z.string().optional(),
      })
      .strict(),
    regions: z.array(region).min(1),
    bus: z
      .object({
        format: z.enum(QUEUE_FORMATS as unknown as [string, ...string[]]),
        region: z.string(),
        offset: smallNumber,
        size: byteSize,
        fixed: z.record(z.string(), z.union([z.string(), z.number()], { error: 'expected a string or a number' })).optional(),
        messageFormat: z.enum(['virtio-msg-r1', 'virtio-msg-prerfc']).optional(),
        revision: z.enum(REVISIONS as unknown as [Revision, ...Revision[]]),
        maxMessageSize: z.number().int().min(8).max(65535),
        handshake: z.enum(['none', 'vmamp-v1', 'openamp-static', 'ready-word']),
        timeouts: z
          .object({ layoutMs: timeoutMs, peerMs: timeoutMs, responseMs: timeoutMs })
          .partial()
          .strict()
          .optional(),
      })
      .strict(),
    publish: z.array(registerWrite).optional(),
    /**
     * What a passive monitor needs beyond the driver's view (docs/amp-bus.md §4.6): where the
     * board's own driver publishes the bus address of the queue area it allocated in host
     * memory (the Versal card's BAR1 words), read before that memory is mapped read-only
     * through memFile (default /dev/mem).
     */
    monitor: z
      .object({
        busAddress: z.object({ region: z.string(), lo: smallNumber, hi: smallNumber.optional() }).strict().optional(),
        memFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** QEMU driven through its qtest socket with no guest (main/host/links/qtest.ts). */
    qtest: z
      .object({
        /** PCI configuration mechanism #1 (ports 0xcf8/0xcfc, x86 pc/q35) or ECAM MMIO (arm virt) at ecamBase. */
        configAccess: z.enum(['cf8', 'ecam']).optional(),
        ecamBase: bigNumber.optional(),
        /** Guest-physical window the link assigns BARs from. */
        mmio: z.object({ base: bigNumber, size: bigNumber }).strict(),
        /** Guest-physical address of byte 0 of a file-backed RAM (memory-backend-file): maps guestPhys regions directly. */
        ramFileBase: bigNumber.optional(),
        /** Virtual time QEMU is advanced by (clock_step) on every poll; -accel qtest runs no clock of its own. */
        clockStepNs: z.number().int().nonnegative().optional(),
        /** A qtest command not answered within this long fails the link (QEMU hung). */
        commandTimeoutMs: timeoutMs.optional(),
        /** Started by the workbench when no socket is given: qtest arguments are appended. */
        qemu: z.object({ binary: z.string().min(1), args: z.array(z.string()) }).strict().optional(),
      })
      .strict()
      .optional(),
    doorbellOut,
    doorbellIn,
    dataMemory: z
      .object({
        region: z.string(),
        addressMode: z.enum(['guest-physical', 'iova', 'physical-identity', 'window-offset']),
        peerBase: bigNumber,
        size: byteSize,
        reserveForQueues: smallNumber.optional(),
      })
      .strict(),
    devices: z.array(z.object({ devNum: z.number().int().min(0).max(0xffff), virtioId: z.number().int().min(1) }).strict()).optional(),
    sim: z
      .object({
        devices: z
          .array(z.object({ devNum: z.number().int().min(0).max(0xffff), kind: z.enum(SIMULATED_DEVICE_NAMES as [string, ...string[]]), seed: z.number().int().optional() }).strict())
          .min(1),
      })
      .strict()
      .optional(),
  })
  .strict()
  // Checks across fields run on a profile whose fields are each valid: a field's own error says
  // what is wrong, without follow-on errors computed from the bad value.
  .superRefine((p, ctx) => {
    const names = new Set<string>();
    p.regions.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: 'custom', path: ['regions', i, 'name'], message: `region name "${r.name}" is used twice` });
      names.add(r.name);
    });
    const byName = new Map(p.regions.map((r) => [r.name, r]));
    const checkRegion = (name: string | undefined, path: (string | number)[]) => {
      if (name !== undefined && !byName.has(name)) {
        ctx.addIssue({ code: 'custom', path, message: `expected one of the regions (${[...names].join(', ')}), saw "${name}"` });
      }
    };
    checkRegion(p.bus.region, ['bus', 'region']);
    checkRegion(p.dataMemory.region, ['dataMemory', 'region']);
    checkRegion(p.doorbellOut.region, ['doorbellOut', 'region']);
    checkRegion(p.monitor?.busAddress?.region, ['monitor', 'busAddress', 'region']);
    const busRegion = byName.get(p.bus.region);
    if (busRegion && p.bus.offset + p.bus.size > busRegion.size) {
      ctx.addIssue({
        code: 'custom',
        path: ['bus', 'size'],
        message: `bus area [${p.bus.offset}, ${p.bus.offset + p.bus.size}) does not fit region "${busRegion.name}" of ${busRegion.size} bytes`,
      });
    }
    const dataRegion = byName.get(p.dataMemory.region);
    if (dataRegion && p.dataMemory.size > dataRegion.size) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataMemory', 'size'],
        message: `data memory of ${p.dataMemory.size} bytes does not fit region "${dataRegion.name}" of ${dataRegion.size} bytes`,
      });
    }
    // The data memory starts at offset 0 of its region (every link places it there).
    if (p.dataMemory.region === p.bus.region && p.dataMemory.size > p.bus.offset) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataMemory', 'size'],
        message:
          `data memory ${span(0, p.dataMemory.size)} of region "${p.bus.region}" overlaps the bus area ${span(p.bus.offset, p.bus.size)}: ` +
          `the virtqueues would overwrite the message queues; expected ${p.bus.offset > 0 ? `at most ${p.bus.offset} bytes (the bus area starts at bus.offset ${hexNum(p.bus.offset)}) or ` : ''}` +
          `a data memory in another region, saw ${p.dataMemory.size} bytes`,
      });
    }
    checkRegionOverlaps(p.regions, ctx);
    if (p.access.kind === 'sim') {
      p.regions.forEach((r, i) => {
        if (r.size > SIM_MAX_REGION_BYTES) {
          ctx.addIssue({
            code: 'custom',
            path: ['regions', i, 'size'],
            message: `a simulated board holds each region in RAM: expected at most ${SIM_MAX_REGION_BYTES} bytes (${hexNum(SIM_MAX_REGION_BYTES)}, 1 GiB), saw ${r.size}`,
          });
        }
      });
    }
    const rev = p.bus.revision as Revision;
    const minSize = PRACTICAL_MIN_BUS_MSG_SIZE[rev];
    if (p.bus.maxMessageSize < minSize) {
      const why = minSize === MIN_BUS_MSG_SIZE[rev] ? '' : ` (the spec's ${MIN_BUS_MSG_SIZE[rev]} cannot carry its 48-byte GET_VQUEUE and SET_VQUEUE, docs/protocol.md §18.3)`;
      ctx.addIssue({ code: 'custom', path: ['bus', 'maxMessageSize'], message: `revision ${rev} needs a bus maximum of at least ${minSize} bytes${why}, saw ${p.bus.maxMessageSize}` });
    }
    const prerfc = p.bus.messageFormat === 'virtio-msg-prerfc';
    if (p.bus.messageFormat !== undefined && prerfc !== (p.bus.revision === 'r0')) {
      ctx.addIssue({
        code: 'custom',
        path: ['bus', 'revision'],
        message: `messageFormat "${p.bus.messageFormat}" needs revision ${prerfc ? 'r0' : 'r2, r3 or r4'}, saw "${p.bus.revision}"`,
      });
    }
    if (p.access.kind === 'qtest' && !p.qtest) {
      ctx.addIssue({ code: 'custom', path: ['qtest'], message: 'a board reached through qtest (access.kind "qtest") needs qtest.mmio' });
    }
    if (p.qtest?.configAccess === 'ecam' && p.qtest.ecamBase === undefined) {
      ctx.addIssue({ code: 'custom', path: ['qtest', 'ecamBase'], message: 'configAccess "ecam" needs ecamBase (arm virt: 0x4010000000)' });
    }
    if (p.access.kind === 'sim' && !p.sim) {
      ctx.addIssue({ code: 'custom', path: ['sim'], message: 'a simulated board (access.kind "sim") needs sim.devices' });
    }
    const devNums = new Set<number>();
    p.sim?.devices.forEach((d, i) => {
      if (devNums.has(d.devNum)) ctx.addIssue({ code: 'custom', path: ['sim', 'devices', i, 'devNum'], message: `dev_num ${d.devNum} is used twice` });
      devNums.add(d.devNum);
    });
  }, { when: (payload) => payload.issues.length === 0 });

/** "[0x1000, 0x3000)": a byte range as errors show it. */
function span(start: number | bigint, size: number): string {
  return `[${hexNum(start)}, ${hexNum(BigInt(start) + BigInt(size))})`;
}

type RegionSource = z.output<typeof regionSource>;

/**
 * The address space a region's source points into and where the region starts in it; regions
 * in one space must not share bytes (a BAR, UIO map or VFIO region named twice is the same memory).
 * Simulated regions are each their own buffer.
 */
function placeOf(source: RegionSource): { space: string; start: bigint } | null {
  if ('sysfsResource' in source) return { space: `PCI resource ${source.sysfsResource}`, start: 0n };
  if ('uioMap' in source) return { space: `UIO map ${source.uioMap}`, start: 0n };
  if ('vfioRegion' in source) return { space: `VFIO region ${source.vfioRegion}`, start: 0n };
  if ('pciBar' in source) return { space: `PCI BAR ${source.pciBar}`, start: 0n };
  if ('file' in source) return { space: `file ${source.file}`, start: BigInt(source.offset ?? 0) };
  if ('bridgeAddr' in source) return { space: 'the board address space (bridgeAddr)', start: source.bridgeAddr };
  if ('vfioDma' in source) return { space: 'the IOVA space (vfioDma.iova)', start: source.vfioDma.iova };
  if ('shm' in source) return { space: 'the ivshmem shared memory (shm)', start: BigInt(source.shm) };
  if ('guestPhys' in source) return { space: 'guest-physical memory (guestPhys)', start: source.guestPhys };
  return null;
}

function checkRegionOverlaps(regions: readonly { name: string; source: RegionSource; size: number }[], ctx: z.RefinementCtx): void {
  const placed = regions.map((r) => placeOf(r.source));
  regions.forEach((r, i) => {
    const here = placed[i];
    if (!here) return;
    const end = here.start + BigInt(r.size);
    for (let j = 0; j < i; j++) {
      const other = placed[j];
      if (!other || other.space !== here.space) continue;
      const otherEnd = other.start + BigInt(regions[j]!.size);
      if (here.start >= otherEnd || end <= other.start) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['regions', i, 'source'],
        message:
          `region "${r.name}" ${span(here.start, r.size)} of ${here.space} overlaps region "${regions[j]!.name}" ${span(other.start, regions[j]!.size)}: ` +
          `expected regions that share no bytes, saw ${hexNum((end < otherEnd ? end : otherEnd) - (here.start > other.start ? here.start : other.start))} bytes in common`,
      });
      return;
    }
  });
}

export type BoardProfile = z.output<typeof boardProfileSchema>;

export interface ProfileError {
  /** Dotted path of the field, e.g. "bus.format" or "regions[1].size". */
  field: string;
  message: string;
  /** Where the field is in the profile file (1-based), when the profile came from text. */
  line?: number;
  column?: number;
}

/** The profile, or every problem found in it (the API's profile.validate answers {valid, errors} from it). */
export type ProfileResult = Result<BoardProfile, ProfileError[]>;

/** Validates parsed JSON as a board profile; every error names its field and says expected vs seen. */
export function parseBoardProfile(input: unknown): ProfileResult {
  return validate(input);
}

/**
 * Reads a profile file's text: errors also say the line of the field in the file (for a missing
 * field, the line of the object it belongs in), and a syntax error says where the JSON broke.
 */
export function parseBoardProfileText(text: string, fileName: string): ProfileResult {
  const scan = scanJson(text);
  if (!scan.ok) {
    const { line, column } = scan.position;
    return { ok: false, error: [{ field: '(file)', message: `${fileName} is not valid JSON: ${scan.error}`, line, column }] };
  }
  return validate(scan.value, scan.locate);
}

function validate(input: unknown, locate?: (path: JsonPath) => { line: number; column: number }): ProfileResult {
  const r = boardProfileSchema.safeParse(input);
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    error: r.error.issues.map((issue): ProfileError => {
      const seen = valueAt(input, issue.path);
      let message = issue.message;
      // An unknown field is best shown where it is written, not where its object starts.
      let where = issue.path as JsonPath;
      if (issue.code === 'unrecognized_keys') {
        message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
        where = [...where, ...issue.keys.slice(0, 1)];
      } else if (issue.code !== 'custom') {
        message = `${expectedText(issue)}, saw ${describeValue(seen)}`;
      }
      const error: ProfileError = { field: fieldName(issue.path) || '(profile)', message };
      if (!locate) return error;
      const { line, column } = locate(where);
      return { ...error, line, column };
    }),
  };
}

export function formatProfileErrors(errors: readonly ProfileError[]): string {
  return errors.map((e) => `  ${e.field}${e.line !== undefined ? ` (line ${e.line})` : ''}: ${e.message}`).join('\n');
}
