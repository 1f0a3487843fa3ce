/**
 * Board profile: where the bytes are, how to ring and be rung, and which queue format and
 * message revision the board speaks (amp-bus.md §11, schema "amp-board-profile/0"). Everything
 * a profile file says is validated here; an error names the field, what was expected and what
 * was seen.
 *
 * Extensions to the §11 proposal, because the tool needs them:
 * - `bus.revision` (r0/r2/r3/r4): "virtio-msg-r1" covers three incompatible layouts
 *   (virtio-msg-protocol.md §2, §18.1), so the profile names the one the board speaks.
 * - `access.kind: "sim"` and `sim.devices`: simulated boards are profiles too.
 * - region source `{shm: offset}`: a place in the shared memory an ivshmem-server hands out.
 */
import { z } from 'zod';

import { describeValue, fieldName, valueAt } from './issues';
import { scanJson, type JsonPath } from './jsonLocate';

import { QUEUE_FORMATS } from '../bus/queue';
import { MIN_BUS_MSG_SIZE, PRACTICAL_MIN_BUS_MSG_SIZE } from '../protocol/index';
import { REVISIONS, type Revision } from '../protocol/types';
import { PEERS } from '../trace/conformance';

/** A number in a profile: JSON number or a "0x…"/decimal string (strings when > 2^53). */
const bigNumber = z
  .union([z.number().int().nonnegative(), z.string().regex(/^(0x[0-9a-fA-F]+|[0-9]+)$/, 'expected a number or a "0x…" hex string')])
  .transform((v) => BigInt(v));

const smallNumber = bigNumber.refine((v) => v <= BigInt(Number.MAX_SAFE_INTEGER), 'too large').transform((v) => Number(v));

const accessWidth = z.union([z.literal(8), z.literal(16), z.literal(32), z.literal(64)]);

const regionSource = z.union([
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
]);

const region = z
  .object({
    name: z.string().min(1),
    source: regionSource,
    size: smallNumber.refine((v) => v > 0, 'must be > 0'),
    mapping: z.enum(['uc', 'wc', 'cached']).optional(),
    accessWidths: z.array(accessWidth).optional(),
    peerAddress: bigNumber.optional(),
  })
  .strict();

const registerWrite = z
  .object({ region: z.string(), offset: smallNumber, width: accessWidth, value: z.union([smallNumber, z.string().startsWith('$')]) })
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

export const SIM_DEVICE_KINDS = ['i2c', 'rng', 'console'] as const;

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
        size: smallNumber.refine((v) => v > 0, 'must be > 0'),
        fixed: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
        messageFormat: z.enum(['virtio-msg-r1', 'virtio-msg-prerfc']).optional(),
        revision: z.enum(REVISIONS as unknown as [Revision, ...Revision[]]),
        maxMessageSize: z.number().int().min(8).max(65535),
        handshake: z.enum(['none', 'vmamp-v1', 'openamp-static', 'ready-word']),
        timeouts: z
          .object({ layoutMs: z.number().positive(), peerMs: z.number().positive(), responseMs: z.number().positive() })
          .partial()
          .strict()
          .optional(),
      })
      .strict(),
    publish: z.array(registerWrite).optional(),
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
        commandTimeoutMs: z.number().positive().optional(),
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
        size: smallNumber.refine((v) => v > 0, 'must be > 0'),
        reserveForQueues: smallNumber.optional(),
      })
      .strict(),
    devices: z.array(z.object({ devNum: z.number().int().min(0).max(0xffff), virtioId: z.number().int().min(1) }).strict()).optional(),
    sim: z
      .object({
        devices: z
          .array(z.object({ devNum: z.number().int().min(0).max(0xffff), kind: z.enum(SIM_DEVICE_KINDS), seed: z.number().int().optional() }).strict())
          .min(1),
      })
      .strict()
      .optional(),
  })
  .strict()
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
    const rev = p.bus.revision as Revision;
    const minSize = PRACTICAL_MIN_BUS_MSG_SIZE[rev];
    if (p.bus.maxMessageSize < minSize) {
      const why = minSize === MIN_BUS_MSG_SIZE[rev] ? '' : ` (the spec's ${MIN_BUS_MSG_SIZE[rev]} cannot carry its 48-byte GET_VQUEUE and SET_VQUEUE, virtio-msg-protocol.md §18.3)`;
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
  });

export type BoardProfile = z.output<typeof boardProfileSchema>;

export interface ProfileError {
  /** Dotted path of the field, e.g. "bus.format" or "regions[1].size". */
  field: string;
  message: string;
  /** Where the field is in the profile file (1-based), when the profile came from text. */
  line?: number;
  column?: number;
}

export type ProfileResult = { ok: true; profile: BoardProfile } | { ok: false; errors: ProfileError[] };

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
    return { ok: false, errors: [{ field: '(file)', message: `${fileName} is not valid JSON: ${scan.message}`, line, column }] };
  }
  return validate(scan.value, scan.locate);
}

function validate(input: unknown, locate?: (path: JsonPath) => { line: number; column: number }): ProfileResult {
  const r = boardProfileSchema.safeParse(input);
  if (r.success) return { ok: true, profile: r.data };
  return {
    ok: false,
    errors: r.error.issues.map((issue): ProfileError => {
      const seen = valueAt(input, issue.path);
      let message = issue.message;
      // An unknown field is best shown where it is written, not where its object starts.
      let where = issue.path as JsonPath;
      if (issue.code === 'invalid_value' && 'values' in issue) {
        message = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, saw ${describeValue(seen)}`;
      } else if (issue.code === 'unrecognized_keys') {
        message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
        where = [...where, ...issue.keys.slice(0, 1)];
      } else if (issue.code !== 'custom') {
        message = `${issue.message}; saw ${describeValue(seen)}`;
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
