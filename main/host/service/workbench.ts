/**
 * WorkbenchService: the Workbench API (src/api/workbench.ts) over the engine. One board session at
 * a time, always recorded: session.connect starts a capture journal in a folder of its own under
 * the captures folder, and the trace stays queryable (rows, record, window, stats, export) while
 * it grows and after the session ends. A capture opened from disk goes into the same TraceStore.
 *
 * Every request is validated (parseRequest); every failure is a value `{ ok: false, error }` that
 * says what was expected, what was seen and what to try. Transports (Electron IPC, the web
 * server, tests) call `handle` with what they received and forward `onEvent`.
 */
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

import { parseBoardProfileText, type BoardProfile } from '../../../src/api/boardProfile';
import {
  boardInfo,
  deviceToJson,
  METHOD_ACTIONS,
  parseRequest,
  workbenchError,
  type ParsedRequest,
  type SessionStateJson,
  type WorkbenchApi,
  type WorkbenchError,
  type WorkbenchEvent,
  type WorkbenchEventData,
  type WorkbenchEventName,
  type WorkbenchMethod,
  type WorkbenchParsedParams,
  type WorkbenchResponse,
} from '../../../src/api/workbench';
import { BUILTIN_PROFILES, DEFAULT_BOARD, findBuiltinProfile, HARDWARE_PROFILES } from '../../../src/boards/builtin';
import { CONSOLE_RECEIVEQ, CONSOLE_TRANSMITQ, consoleEcho, consoleWrite } from '../../../src/devices/console';
import { I2C_REQUESTQ, i2cTransfer, type I2cSegment } from '../../../src/devices/i2c';
import { RNG_REQUESTQ, rngRead } from '../../../src/devices/rng';
import type { WorkloadResult } from '../../../src/devices/workload';
import { DEVICE_ID } from '../../../src/protocol/names';
import { toHex } from '../../../src/util/hex';
import { describeFailure, failureDetail, type FailureText } from '../failure';
import { parseLinkSpec, type LinkSpec } from '../links/open';
import { CaptureError, startCapture, type RecordedSession } from '../trace/capture';
import { exportCaptureAsync } from '../trace/export';
import { loadCapture } from '../trace/load';
import { toDetail, toRow } from './rows';
import { TraceStore } from './traceStore';

export interface WorkbenchServiceOptions {
  /** Where session captures go, one folder each (default os.tmpdir()/amp-workbench-captures). */
  capturesDir?: string;
  /** Trace bytes kept in memory (TraceStore; default 256 MiB). */
  residentBytes?: number;
}

type Reply = { ok: true; result: unknown } | { ok: false; error: WorkbenchError };

const ALL_PROFILES = (): readonly BoardProfile[] => [...BUILTIN_PROFILES, ...HARDWARE_PROFILES];

function ok(result: unknown): Reply {
  return { ok: true, result };
}

interface Live {
  rec: RecordedSession;
  dir: string;
  unsubscribe: (() => void)[];
}

export class WorkbenchService implements WorkbenchApi {
  private live: Live | null = null;
  /** What is in progress that excludes a second connect/open. */
  private busy: string | null = null;
  private store: TraceStore | null = null;
  /** The export running now (one at a time): its file and how to cancel it. */
  private exporting: { out: string; abort: AbortController } | null = null;
  private readonly listeners = new Set<(e: WorkbenchEvent) => void>();
  readonly capturesDir: string;

  constructor(private readonly opts: WorkbenchServiceOptions = {}) {
    this.capturesDir = opts.capturesDir ?? join(tmpdir(), 'amp-workbench-captures');
  }

  call<M extends WorkbenchMethod>(method: M, params: unknown): Promise<WorkbenchResponse<M>> {
    return this.handle(method, params) as Promise<WorkbenchResponse<M>>;
  }

  onEvent(listener: (e: WorkbenchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A request as a transport received it: validated, then run. Never rejects. */
  async handle(method: unknown, params: unknown): Promise<Reply> {
    const p = parseRequest(method, params);
    if (!p.ok) return p;
    const m = p.request.method;
    try {
      const r = await this.dispatch(p.request);
      // Messages say what happened in the user's words; programs find the request in `method`.
      return r.ok ? r : { ok: false, error: { ...r.error, method: m } };
    } catch (e) {
      const f = describeFailure(e);
      return workbenchError('failed', `${METHOD_ACTIONS[m]} failed: ${f.text}`, { method: m, ...failureDetail(f) });
    }
  }

  /** Ends the session, if any (the capture folder is kept). */
  async close(): Promise<void> {
    if (this.live) await this.disconnect('the workbench is shutting down', false);
  }

  private emit<E extends WorkbenchEventName>(event: E, data: WorkbenchEventData<E>): void {
    for (const l of this.listeners) l({ event, data } as WorkbenchEvent);
  }

  private dispatch(req: ParsedRequest): Promise<Reply> | Reply {
    switch (req.method) {
      case 'boards.list':
        return ok({ boards: ALL_PROFILES().map((p) => boardInfo(p, DEFAULT_BOARD)) });
      case 'profile.validate': {
        const r = parseBoardProfileText(req.params.text, req.params.fileName);
        return ok(r.ok ? { valid: true, id: r.profile.id, description: r.profile.description } : { valid: false, errors: r.errors });
      }
      case 'session.connect':
        return this.connect(req.params);
      case 'session.disconnect':
        return this.live ? this.disconnect('disconnected by the user', false) : workbenchError('no-session', 'no board is connected');
      case 'session.state':
        return ok(this.state());
      case 'session.takeControl':
        return ok({ controller: true });
      case 'device.reset':
        return this.reset(req.params.devNum);
      case 'device.workload':
        return this.workload(req.params);
      case 'queue.inspect':
        return this.inspect(req.params.devNum, req.params.queue);
      case 'trace.info':
        return this.withStore((s) => ok(s.info()));
      case 'trace.rows':
        return this.withStore((s) => {
          const r = s.rows(req.params.from, req.params.count, req.params.filter);
          if (!r.ok) return workbenchError('bad-filter', r.error, { field: 'params.filter', ...(r.column ? { column: r.column } : {}) });
          const base = s.source.meta.startMonoNs;
          const rows = r.value.positions.flatMap((p) => {
            const v = s.at(p);
            return v ? [toRow(v, p, base)] : [];
          });
          return ok({ total: r.value.total, from: req.params.from, rows });
        });
      case 'trace.record':
        return this.withStore((s) => {
          const p = s.positionOf(req.params.seq);
          const v = p < 0 ? null : s.at(p);
          if (!v) return workbenchError('not-found', `no record #${req.params.seq} in the trace (${s.count} records)`, { field: 'params.seq' });
          return ok(toDetail(v, p, s.source.meta.startMonoNs));
        });
      case 'trace.window':
        return this.withStore((s) => {
          const r = s.window(req.params);
          return r.ok ? ok(r.value) : workbenchError('bad-filter', r.error, { field: 'params.filter', ...(r.column ? { column: r.column } : {}) });
        });
      case 'trace.stats':
        return this.withStore((s) => {
          const r = s.stats(req.params.filter);
          return r.ok ? ok(r.value) : workbenchError('bad-filter', r.error, { field: 'params.filter', ...(r.column ? { column: r.column } : {}) });
        });
      case 'trace.bookmark': {
        if (!this.live) return workbenchError('no-session', 'bookmarks go into a live capture; connect a board first');
        const seq = this.live.rec.session.bookmark(req.params.text);
        // Flushed at once, so the bookmark is in the trace when the caller looks for it.
        this.live.rec.recorder.flush();
        return ok({ seq });
      }
      case 'trace.export':
        return this.withStore((s) => this.export(s, req.params));
      case 'trace.cancelExport':
        if (!this.exporting) return workbenchError('not-found', 'no export is running');
        this.exporting.abort.abort();
        return ok({ out: this.exporting.out });
      case 'capture.open':
        return this.open(req.params.path);
    }
  }

  private withStore<R extends Reply | Promise<Reply>>(fn: (s: TraceStore) => R): R | Reply {
    if (!this.store) return workbenchError('no-session', 'no trace yet: connect a board or open a saved capture');
    return fn(this.store);
  }

  private state(): SessionStateJson {
    if (!this.live) return { connected: false, board: null, link: null, capture: null, notices: [], findings: [], devices: [] };
    const s = this.live.rec.session;
    return {
      connected: true,
      board: s.profile.id,
      link: s.link.description,
      capture: this.live.dir,
      notices: [...s.notices],
      findings: [...s.findings, ...s.driver.busFindings()],
      devices: s.driver.states().map(deviceToJson),
    };
  }

  private profileFor(p: WorkbenchParsedParams<'session.connect'>): { ok: true; profile: BoardProfile } | { ok: false; error: WorkbenchError } {
    if (p.profileText !== undefined) {
      const r = parseBoardProfileText(p.profileText, p.fileName ?? 'profile');
      if (r.ok) return r;
      const list = r.errors.map((e) => `${e.field}${e.line !== undefined ? ` (line ${e.line})` : ''}: ${e.message}`).join('; ');
      return workbenchError('bad-request', `the board profile is invalid: ${list}`, { field: 'params.profileText' });
    }
    const id = p.board ?? DEFAULT_BOARD;
    const profile = findBuiltinProfile(id) ?? HARDWARE_PROFILES.find((h) => h.id === id);
    if (profile) return { ok: true, profile };
    return workbenchError('bad-request', `unknown board "${id}"; expected one of ${ALL_PROFILES().map((b) => b.id).join(', ')}`, { field: 'params.board' });
  }

  private async connect(p: WorkbenchParsedParams<'session.connect'>): Promise<Reply> {
    if (this.live || this.busy) {
      return workbenchError('busy', `${this.busy ?? `connected to ${this.live!.rec.session.profile.id}`}; disconnect first (one session at a time)`);
    }
    const chosen = this.profileFor(p);
    if (!chosen.ok) return chosen;
    const profile = chosen.profile;
    let link: LinkSpec | undefined;
    if (p.link !== undefined) {
      const l = parseLinkSpec(p.link);
      if (!l.ok) return workbenchError('bad-request', l.error, { field: 'params.link' });
      link = l.spec;
    }
    const dir = join(this.capturesDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${profile.id}`);
    this.busy = `connecting to ${profile.id}`;
    let rec: RecordedSession;
    try {
      rec = await startCapture(profile, {
        dir,
        ...(link ? { link } : {}),
        onStage: (stage, detail) => this.emit('session.stage', { stage, detail }),
        notes: [`amp-workbench session on ${profile.id}`],
      });
    } catch (e) {
      const kept = e instanceof CaptureError ? `; ${e.records} records kept in ${dir}` : '';
      const f = describeFailure(e);
      return workbenchError('failed', `connecting to ${profile.id} failed: ${f.text}${kept}. Check that the board is powered and its firmware running, or try the simulated board ${DEFAULT_BOARD}`, failureDetail(f));
    } finally {
      this.busy = null;
    }
    // The journal as it is written, the one route by which the trace reaches the store.
    const store = new TraceStore(rec.journal.source, this.residentOption());
    this.store = store;
    const unsubscribe = [
      store.follow((count) => this.emit('trace.appended', { count, total: store.count })),
      rec.session.driver.subscribe((d) => this.emit('session.device', { device: deviceToJson(d) })),
    ];
    this.live = { rec, dir, unsubscribe };
    // A board that resets or a link that dies mid-session ends the session at once, with the
    // reason, instead of leaving every later request to time out; the trace stays open.
    rec.session.onLost((reason) => {
      if (this.live?.rec === rec) void this.disconnect(`lost the board: ${reason}. The trace so far is kept; connect again when the board is back`, true);
    });
    this.emit('trace.reset', store.info());
    const probed = await rec.session.probe();
    return ok({ ...this.state(), bringUpError: probed.ok ? null : `bring-up of ${profile.id} failed: ${probed.error}` });
  }

  private residentOption(): { residentBytes?: number } {
    return this.opts.residentBytes !== undefined ? { residentBytes: this.opts.residentBytes } : {};
  }

  private async disconnect(reason: string, lost: boolean): Promise<Reply> {
    const live = this.live!;
    this.live = null;
    let records = 0;
    let failure: FailureText | null = null;
    try {
      records = await live.rec.stop();
    } catch (e) {
      failure = describeFailure(e);
    } finally {
      // After stop: the recorder's last flush (detach marker included) still reaches the store.
      for (const u of live.unsubscribe) u();
    }
    // The session is over either way: the page must hear it.
    const why = failure && `closing the link failed: ${failure.text}`;
    this.emit('session.closed', { reason: why ? `${reason}; ${why}` : reason, capture: live.dir, lost });
    return failure ? workbenchError('failed', `${why}; the capture is in ${live.dir}`, failureDetail(failure)) : ok({ capture: live.dir, records });
  }

  private session(devNum: number): { ok: true; live: Live } | { ok: false; error: WorkbenchError } {
    if (!this.live) return workbenchError('no-session', 'no board is connected; connect a board first');
    if (!this.live.rec.session.driver.state(devNum)) {
      const have = this.live.rec.session.driver.states().map((d) => d.devNum);
      return workbenchError('not-found', `no device with dev_num ${devNum}; the board has ${have.length ? have.join(', ') : 'no devices'}`, { field: 'params.devNum' });
    }
    return { ok: true, live: this.live };
  }

  private async reset(devNum: number): Promise<Reply> {
    const s = this.session(devNum);
    if (!s.ok) return s;
    return ok({ device: deviceToJson(await s.live.rec.session.resetDevice(devNum)) });
  }

  private async workload(p: WorkbenchParsedParams<'device.workload'>): Promise<Reply> {
    const s = this.session(p.devNum);
    if (!s.ok) return s;
    const { session } = s.live.rec;
    const state = session.driver.state(p.devNum)!;
    const wants = { 'i2c-transfer': DEVICE_ID.I2C, 'rng-read': DEVICE_ID.RNG, 'console-send': DEVICE_ID.CONSOLE }[p.kind];
    if (state.deviceId !== wants) {
      return workbenchError('bad-request', `${p.kind} needs virtio device type ${wants}, but dev_num ${p.devNum} is ${state.deviceType} (${state.deviceId})`, { field: 'params.kind' });
    }
    const ctx = (queue: number) => {
      const c = session.driver.queueContext(p.devNum, queue);
      if (!c.ok) throw new Error(c.error);
      return c.value;
    };
    const t0 = session.runtime.monoNs();
    let r: WorkloadResult<{ reads: Uint8Array[] }>;
    if (p.kind === 'i2c-transfer') {
      const { address, tenBit, segments } = p.params;
      const addr = tenBit ? { address, tenBit } : { address };
      const segs: I2cSegment[] = segments.map((g) => ('write' in g ? { ...addr, write: g.write } : { ...addr, read: g.read }));
      r = await i2cTransfer(ctx(I2C_REQUESTQ), segs);
    } else if (p.kind === 'rng-read') {
      const got = await rngRead(ctx(RNG_REQUESTQ), p.params.bytes);
      r = got.ok ? { ok: true, reads: [got.bytes] } : got;
    } else {
      const bytes = new TextEncoder().encode(p.params.text);
      const tx = ctx(CONSOLE_TRANSMITQ);
      const got = p.params.echo ? await consoleEcho(tx, ctx(CONSOLE_RECEIVEQ), bytes) : await consoleWrite(tx, bytes);
      r = !got.ok ? got : { ok: true, reads: 'echoed' in got ? [got.echoed as Uint8Array] : [] };
    }
    const latencyUs = Number(session.runtime.monoNs() - t0) / 1000;
    // The trace says why the workload failed (a bad used ring, a device that did not answer);
    // a session that ended under it has its own marker.
    if (!r.ok && session.endedBecause === null) s.live.rec.recorder.marker('error', `${p.kind} on device ${p.devNum} failed: ${r.error}`, { devNum: p.devNum });
    return ok({
      kind: p.kind,
      devNum: p.devNum,
      succeeded: r.ok,
      error: r.ok ? null : r.error,
      latencyUs,
      reads: r.ok ? r.reads.map((b) => toHex(b, '')) : [],
    });
  }

  private async inspect(devNum: number, queue: number): Promise<Reply> {
    const s = this.session(devNum);
    if (!s.ok) return s;
    const { driver } = s.live.rec.session;
    const ring = driver.inspectQueue(devNum, queue);
    const model = driver.state(devNum)!.queues[queue];
    if (!ring || !model) {
      const n = driver.state(devNum)!.queues.length;
      return workbenchError('not-found', `device ${devNum} has no queue ${queue} (it has ${n === 0 ? 'none set up' : `0..${n - 1}`})`, { field: 'params.queue' });
    }
    return ok({ devNum, queue, name: model.name, ring: await ring });
  }

  private async export(s: TraceStore, p: WorkbenchParsedParams<'trace.export'>): Promise<Reply> {
    if (!isAbsolute(p.out)) return workbenchError('bad-request', `the output file must be a full path on the workbench's machine (such as /home/me/trace.pcapng), saw "${p.out}"`, { field: 'params.out' });
    if (this.exporting) return workbenchError('busy', `an export to ${this.exporting.out} is running; wait for it or cancel it`);
    // Everything recorded so far goes into the file, not only what the last flush delivered.
    if (this.live && s.live) this.live.rec.recorder.flush();
    const abort = new AbortController();
    this.exporting = { out: p.out, abort };
    try {
      const r = await exportCaptureAsync(s.source, {
        format: p.format,
        out: p.out,
        ...(p.filter !== undefined ? { filter: p.filter } : {}),
        ...(p.fromNs !== undefined ? { fromNs: p.fromNs } : {}),
        ...(p.toNs !== undefined ? { toNs: p.toNs } : {}),
        onProgress: (done, total) => this.emit('export.progress', { out: p.out, done, total }),
        signal: abort.signal,
      });
      if (r.ok) return ok({ out: p.out, written: r.written, scanned: r.scanned, bytes: r.bytes });
      const code = abort.signal.aborted ? 'cancelled' : r.error.startsWith('filter:') ? 'bad-filter' : 'failed';
      return workbenchError(code, r.error);
    } finally {
      this.exporting = null;
    }
  }

  private open(path: string): Reply {
    if (this.live || this.busy) return workbenchError('busy', `${this.busy ?? 'a board is connected'}; disconnect first (its capture stays on disk)`);
    const o = loadCapture(path);
    if (!o.ok) return workbenchError('not-found', o.reason, { field: 'params.path' });
    const store = new TraceStore(o.capture, this.residentOption());
    this.store = store;
    const info = store.info();
    this.emit('trace.reset', info);
    return ok(info);
  }
}
