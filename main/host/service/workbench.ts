/**
 * WorkbenchService: the Workbench API (src/api/workbench.ts) over the engine, as a table from
 * method to handler. One board session at a time, always recorded (the session's trace is an
 * automatic rolling capture in the captures folder), and the trace stays queryable (rows,
 * record, window, stats, export) while it grows and after the session ends. A capture opened
 * from disk goes into the same TraceStore.
 *
 * Every request is validated (parseRequest); every failure is a value `{ ok: false, error }` that
 * says what was expected, what was seen and what to try. Transports (Electron IPC, the web
 * server, tests) call `handle` with what they received and forward `onEvent`.
 */
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';

import { parseBoardProfileText, type BoardProfile } from '../../../src/api/boardProfile';
import type { CancelSignal, WorkbenchReply as Reply } from '../../../src/api/rpc';
import {
  boardInfo,
  deviceToJson,
  METHOD_ACTIONS,
  parseRequest,
  QUEUE_BUFFER_MAX,
  workbenchError,
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
import { CONSOLE_DEVICE, CONSOLE_RECEIVEQ, CONSOLE_TRANSMITQ, consoleWrite, readConsole, receiverFor } from '../../../src/devices/console';
import { WORKLOADS, type RegisteredWorkload } from '../../../src/devices/registry';
import type { RecordPredicate } from '../../../src/trace/filter';
import { metaToJson } from '../../../src/trace/meta';
import { timeBase } from '../../../src/trace/record';
import { toHex } from '../../../src/util/hex';
import { describeFailure, failureDetail, type FailureText } from '../failure';
import { parseLinkSpec, type LinkSpec } from '../links/spec';
import { openSession, SessionError, type Session } from '../session';
import { openDeviceSession, servedAsDeviceState, servedDevices, deviceSideLinkProblem, type DeviceSession } from '../deviceSession';
import { openMonitorSession, type MonitorSession } from '../monitorSession';
import { exportCaptureAsync } from '../trace/export';
import { loadCapture } from '../trace/load';
import type { Result } from '../../../src/util/result';
import { DEFAULT_CAPTURES_DIR } from '../trace/trace';
import { toDetail, toRow } from './rows';
import { DeviceLoad } from './load';
import { boardPresence } from './presence';
import { recentCaptures } from './recent';
import { MAX_SORTED_ROWS, sortedRows, tooManyToSort } from './sortRows';
import { DEFAULT_RESIDENT_BYTES, TraceStore, type StoreResult } from './traceStore';
import { readAnalysisFile, writeAnalysisFile } from '../trace/analysisFile';

export interface WorkbenchServiceOptions {
  /** Where session captures go, one folder each (default DEFAULT_CAPTURES_DIR, as for the CLI). */
  capturesDir?: string;
  /** Trace bytes kept in memory (TraceStore; default 256 MiB). */
  residentBytes?: number;
  /** Size of a session's rolling capture (default UI_ROLLING_CAPTURE_BYTES). */
  ringBytes?: number;
}

/**
 * A UI session's rolling capture keeps as much as the store may hold in memory (DEFAULT_RESIDENT_BYTES):
 * someone at the screen scrolls back to what went wrong, and the CLI's 64 MiB (about 12 s at
 * 50 k msg/s) is gone before they get there; 256 MiB is about 50 s at that rate and minutes at a
 * bring-up's, while the disk it takes stays bounded. Records older than the ring leave the trace:
 * the store then counts them in `dropped` and serves only what is held.
 */
export const UI_ROLLING_CAPTURE_BYTES = DEFAULT_RESIDENT_BYTES;


/**
 * How long a record waits before the store and its followers see it: a UI (and the Wireshark
 * extcap's live session, main/host/extcap/capture.ts) sees messages within a frame or two of
 * their crossing the bus; the recorder's 100 ms default is for the CLI's batch captures.
 */
const LIVE_FLUSH_MS = 20;

const ALL_PROFILES = (): readonly BoardProfile[] => [...BUILTIN_PROFILES, ...HARDWARE_PROFILES];

function ok(result: unknown): Reply {
  return { ok: true, result };
}

/** A filter's failure as the API's error, naming the column it stumbled on. */
function filtered<T>(r: StoreResult<T>): Reply {
  return r.ok ? ok(r.value) : workbenchError('bad-filter', r.error, { field: 'params.filter', ...(r.column ? { column: r.column } : {}) });
}

type Handlers = { [M in WorkbenchMethod]: (params: WorkbenchParsedParams<M>, signal: CancelSignal | undefined) => Reply | Promise<Reply> };

export class WorkbenchService implements WorkbenchApi {
  private session: Session | null = null;
  /** A device-side session (the workbench serves devices to a driver); never at once with `session`. */
  private deviceSide: DeviceSession | null = null;
  /** A monitor session (read-only watch), instead of a driver session. */
  private monitor: MonitorSession | null = null;
  /** The session's listeners (trace flushes, device changes), removed when it ends. */
  private unsubscribe: (() => void)[] = [];
  /** What is in progress that excludes a second connect/open. */
  private busy: string | null = null;
  private store: TraceStore | null = null;
  /** The capture opened with capture.open that the store holds, until the next connect: its devices rebuilt from its messages on first ask. */
  private opened: { board: string; link: string; path: string; store: TraceStore } | null = null;
  /** Shutting down: background work (an opened capture's analysis) stops. */
  private closed = false;
  /** The export running now (one at a time): its file and how to cancel it. */
  private exporting: { out: string; abort: AbortController } | null = null;
  private readonly listeners = new Set<(e: WorkbenchEvent) => void>();
  /** Loads running or ended, by dev_num (one per device). */
  private readonly loads = new Map<number, DeviceLoad>();
  /** Devices whose running load reads the console's receiveq itself (console-send with echo). */
  private readonly echoLoads = new Set<number>();
  /** Console readers by dev_num: `stop` asks one to stop, `done` says why it did. */
  private readonly consoles = new Map<number, { stop: string | null; done: Promise<string> }>();
  readonly capturesDir: string;

  constructor(private readonly opts: WorkbenchServiceOptions = {}) {
    this.capturesDir = opts.capturesDir ?? DEFAULT_CAPTURES_DIR;
  }

  /** Each method's handler: validated parameters in, a reply out. */
  private readonly handlers: Handlers = {
    'boards.list': () => ok({ boards: ALL_PROFILES().map((p) => boardInfo(p, DEFAULT_BOARD, boardPresence(p))) }),
    'profile.validate': (p) => this.validate(p.text, p.fileName),
    'session.connect': (p) => this.connect(p),
    'session.disconnect': () =>
      this.session || this.deviceSide ? this.disconnect('disconnected by the user', false)
      : this.monitor ? this.stopMonitor('stopped by the user')
      : workbenchError('no-session', 'no board is connected'),
    'session.state': () => ok(this.state()),
    'session.takeControl': () => ok({ controller: true }),
    'device.reset': (p) => this.reset(p.devNum),
    'device.workload': (p) => this.workload(p),
    'device.load': (p) => this.startLoad(p),
    'device.stopLoad': (p) => this.stopLoad(p.devNum),
    'console.open': (p) => this.openConsole(p.devNum),
    'console.write': (p) => this.writeConsole(p.devNum, p.text),
    'console.close': (p) => this.closeConsole(p.devNum),
    'queue.inspect': (p) => this.inspect(p.devNum, p.queue),
    'queue.buffer': (p) => this.buffer(p.devNum, p.queue, p.desc),
    'trace.info': () => this.withStore((s) => ok(s.info())),
    'trace.rows': (p) => this.withStore((s) => this.rows(s, p)),
    'trace.record': (p) => this.withStore((s) => this.record(s, p.seq)),
    'trace.records': (p) => this.withStore((s) => this.records(s, p.from, p.max)),
    'trace.window': (p) => this.withStore((s) => filtered(s.window(p))),
    'trace.stats': (p) => this.withStore((s) => filtered(s.stats(p.filter))),
    'trace.expert': () => this.withStore((s) => ok(s.expert())),
    'trace.transactions': (p) => this.withStore((s) => ok({ ...s.transactionPage(p.kind, p.from, p.count), queueLatency: s.transactions().queueLatency() })),
    'trace.bookmark': (p) => this.bookmark(p.text),
    'trace.export': (p, signal) => this.withStore((s) => this.export(s, p, signal)),
    'trace.cancelExport': () => this.cancelExport(),
    'capture.open': (p) => this.open(p.path),
    'capture.recent': () => ok({ folder: this.capturesDir, captures: recentCaptures(this.capturesDir) }),
  };

  call<M extends WorkbenchMethod>(method: M, params: unknown): Promise<WorkbenchResponse<M>> {
    return this.handle(method, params) as Promise<WorkbenchResponse<M>>;
  }

  onEvent(listener: (e: WorkbenchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A request as a transport received it: validated, then run. Never rejects. `signal` cancels an export. */
  async handle(method: unknown, params: unknown, signal?: CancelSignal): Promise<Reply> {
    const p = parseRequest(method, params);
    if (!p.ok) return p;
    const m = p.value.method;
    try {
      // The parsed request pairs the method with its own parameters; the compiler cannot follow the pair through the union.
      const run = this.handlers[m] as (params: unknown, signal: CancelSignal | undefined) => Reply | Promise<Reply>;
      const r = await run(p.value.params, signal);
      // Messages say what happened in the user's words; programs find the request in `method`.
      return r.ok ? r : { ok: false, error: { ...r.error, method: m } };
    } catch (e) {
      const f = describeFailure(e);
      return workbenchError('failed', `${METHOD_ACTIONS[m]} failed: ${f.text}`, { method: m, ...failureDetail(f) });
    }
  }

  /** Ends the session, if any (the capture folder is kept). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.session || this.deviceSide) await this.disconnect('the workbench is shutting down', false);
    if (this.monitor) await this.stopMonitor('the workbench is shutting down');
  }

  private emit<E extends WorkbenchEventName>(event: E, data: WorkbenchEventData<E>): void {
    for (const l of this.listeners) l({ event, data } as WorkbenchEvent);
  }

  private validate(text: string, fileName: string): Reply {
    const r = parseBoardProfileText(text, fileName);
    return ok(r.ok ? { valid: true, id: r.value.id, description: r.value.description } : { valid: false, errors: r.error });
  }

  private rows(s: TraceStore, p: WorkbenchParsedParams<'trace.rows'>): Reply {
    let view: { total: number; positions: number[] };
    if (p.sort) {
      // The whole view (at most MAX_SORTED_ROWS), ordered by the column.
      const all = s.rows(0, MAX_SORTED_ROWS + 1, p.filter);
      if (!all.ok) return filtered(all);
      if (all.value.total > MAX_SORTED_ROWS) return workbenchError('bad-request', tooManyToSort(all.value.total), { field: 'params.sort' });
      view = sortedRows(s, p.filter?.trim() ?? '', all.value.positions, p.sort.column, p.sort.descending, p.from, p.count);
    } else {
      const r = s.rows(p.from, p.count, p.filter);
      if (!r.ok) return filtered(r);
      view = r.value;
    }
    const rules: RecordPredicate[] = [];
    for (const [i, text] of (p.colourRules ?? []).entries()) {
      const c = s.compile(text);
      if (!c.ok) return workbenchError('bad-filter', `colour rule ${i + 1}: ${c.error}`, { field: `params.colourRules.${i}`, ...(c.column ? { column: c.column } : {}) });
      rules.push(c.value);
    }
    const base = s.source.meta.startMonoNs;
    const tb = timeBase(base);
    const rows = view.positions.flatMap((at) => {
      // Read before the record itself: the store hands out one view, valid until the next call.
      const prevNs = at > s.dropped ? s.at(at - 1)?.relNs(tb) : undefined;
      const v = s.at(at);
      if (!v) return [];
      const row = toRow(v, at, base, s.source.meta.absent);
      const colour = rules.findIndex((test) => test(v));
      return [{ ...row, ...(prevNs === undefined ? {} : { deltaNs: row.timeNs - prevNs }), ...(colour < 0 ? {} : { colour }) }];
    });
    return ok({ total: view.total, from: p.from, rows });
  }

  private record(s: TraceStore, seq: number): Reply {
    const at = s.positionOf(seq);
    const v = at < 0 ? null : s.at(at);
    if (!v) return workbenchError('not-found', `no record #${seq} in the trace (${s.count} records)`, { field: 'params.seq' });
    return ok(toDetail(v, at, s.source.meta));
  }

  private records(s: TraceStore, from: number, max: number): Reply {
    const total = s.count;
    const next = Math.max(from, Math.min(total, from + max));
    const parts: Uint8Array[] = [];
    for (let at = from; at < next; at++) {
      const v = s.at(at);
      if (v) parts.push(v.raw());
    }
    return ok({ from, next, total, records: Buffer.concat(parts).toString('base64'), meta: metaToJson(s.source.meta) });
  }

  private bookmark(text: string): Reply {
    if (this.monitor) return ok({ seq: this.monitor.bookmark(text) });
    const recorder = (this.session ?? this.deviceSide)?.trace.recorder;
    if (!recorder) return workbenchError('no-session', 'bookmarks go into a live capture; connect a board first');
    const seq = recorder.marker('bookmark', text);
    recorder.flush();
    return ok({ seq });
  }

  private cancelExport(): Reply {
    if (!this.exporting) return workbenchError('not-found', 'no export is running');
    this.exporting.abort.abort();
    return ok({ out: this.exporting.out });
  }

  private withStore<R extends Reply | Promise<Reply>>(fn: (s: TraceStore) => R): R | Reply {
    if (!this.store) return workbenchError('no-session', 'no trace yet: connect a board or open a saved capture');
    return fn(this.store);
  }

  private state(): SessionStateJson {
    const served = this.deviceSide;
    if (served) {
      return {
        connected: true,
        role: 'device',
        source: 'board',
        board: served.profile.id,
        link: served.description,
        capture: served.trace.dir,
        notices: [],
        findings: [],
        devices: served.devices().map((d) => deviceToJson(servedAsDeviceState(d))),
      };
    }
    const s = this.session;
    const m = this.monitor;
    if (m) {
      return {
        connected: true,
        role: 'monitor',
        source: 'board',
        board: m.profile.id,
        link: m.link.description,
        capture: m.trace.dir,
        notices: m.notices,
        findings: [...m.monitor.queueProblems],
        devices: m.devices().map(deviceToJson),
      };
    }
    if (!s) {
      const o = this.opened;
      if (o) {
        const devices = o.store.observedDevices();
        const reading = `reading the devices from the capture's messages (${o.store.analysedCount} of ${o.store.count} records)`;
        return { connected: false, role: 'driver', source: 'capture', board: o.board, link: o.link, capture: o.path, notices: devices === null ? [reading] : [], findings: [], devices: devices ?? [] };
      }
      return { connected: false, role: 'driver', source: 'board', board: null, link: null, capture: null, notices: [], findings: [], devices: [] };
    }
    return {
      connected: true,
      role: 'driver',
      source: 'board',
      board: s.profile.id,
      link: s.link.description,
      capture: s.trace.dir,
      notices: [...s.notices],
      findings: [...s.findings, ...s.driver.busFindings()],
      devices: s.driver.states().map(deviceToJson),
    };
  }

  private profileFor(p: WorkbenchParsedParams<'session.connect'>): Result<BoardProfile, WorkbenchError> {
    if (p.profileText !== undefined) {
      const r = parseBoardProfileText(p.profileText, p.fileName ?? 'profile');
      if (r.ok) return r;
      const list = r.error.map((e) => `${e.field}${e.line !== undefined ? ` (line ${e.line})` : ''}: ${e.message}`).join('; ');
      return workbenchError('bad-request', `the board profile is invalid: ${list}`, { field: 'params.profileText' });
    }
    const id = p.board ?? DEFAULT_BOARD;
    const profile = findBuiltinProfile(id) ?? HARDWARE_PROFILES.find((h) => h.id === id);
    if (profile) return { ok: true, value: profile };
    return workbenchError('bad-request', `unknown board "${id}"; expected one of ${ALL_PROFILES().map((b) => b.id).join(', ')}`, { field: 'params.board' });
  }

  private async connect(p: WorkbenchParsedParams<'session.connect'>): Promise<Reply> {
    const current = this.session ?? this.deviceSide;
    if (current || this.monitor || this.busy) {
      const who = this.busy ?? (current ? `connected to ${current.profile.id}` : `monitoring ${this.monitor!.profile.id}`);
      return workbenchError('busy', `${who}; disconnect first (one session at a time)`);
    }
    const chosen = this.profileFor(p);
    if (!chosen.ok) return chosen;
    const profile = chosen.value;
    let link: LinkSpec | undefined;
    if (p.link !== undefined) {
      const l = parseLinkSpec(p.link);
      if (!l.ok) return workbenchError('bad-request', l.error, { field: 'params.link' });
      link = l.value;
    }
    if (p.role === 'device') return this.serveDevices(profile, link, p.devices);
    if (p.role === 'monitor') return this.startMonitor(profile, link);
    this.busy = `connecting to ${profile.id}`;
    let session: Session;
    try {
      session = await openSession(profile, {
        ...(link ? { link } : {}),
        onStage: (stage, detail) => this.emit('session.stage', { stage, detail }),
        capture: { capturesDir: this.capturesDir, flushMs: LIVE_FLUSH_MS, ringBytes: this.opts.ringBytes ?? UI_ROLLING_CAPTURE_BYTES, notes: [`amp-workbench session on ${profile.id}`] },
      });
    } catch (e) {
      const kept = e instanceof SessionError && e.kept ? `; ${e.kept}` : '';
      const f = describeFailure(e);
      return workbenchError('failed', `connecting to ${profile.id} failed: ${f.text}${kept}. Check that the board is powered and its firmware running, or try the simulated board ${DEFAULT_BOARD}`, failureDetail(f));
    } finally {
      this.busy = null;
    }
    // The journal as it is written, the one route by which the trace reaches the store.
    const store = new TraceStore(session.trace.source, this.residentOption());
    this.store = store;
    this.opened = null;
    this.unsubscribe = [
      this.followStore(store),
      session.driver.subscribe((d) => this.emit('session.device', { device: deviceToJson(d) })),
    ];
    this.session = session;
    // A board that resets or a link that dies mid-session ends the session at once, with the
    // reason, instead of leaving every later request to time out; the trace stays open.
    session.onLost((reason) => {
      if (this.session === session) void this.disconnect(`lost the board: ${reason}. The trace so far is kept; connect again when the board is back`, true);
    });
    this.emit('trace.reset', store.info());
    const probed = await session.probe();
    return ok({ ...this.state(), bringUpError: probed.ok ? null : `bring-up of ${profile.id} failed: ${probed.error}` });
  }

  /** The device side: the profile's devices (or `devices`) served to the driver at the other end of `link`. */
  private async serveDevices(profile: BoardProfile, link: LinkSpec | undefined, devicesSpec: string | undefined): Promise<Reply> {
    if (!link) return workbenchError('bad-request', 'serving devices needs the link the driver is on: linux-loopback, shm-file:FILE or ivshmem[:SOCKET]', { field: 'params.link' });
    const wrong = deviceSideLinkProblem(link.kind);
    if (wrong) return workbenchError('bad-request', wrong, { field: 'params.link' });
    const devices = servedDevices(profile, devicesSpec);
    if (!devices.ok) return workbenchError('bad-request', devices.error, { field: 'params.devices' });
    this.busy = `starting the device side on ${link.kind}`;
    let served: Result<DeviceSession>;
    try {
      served = await openDeviceSession(profile, link, devices.value, {
        capture: { capturesDir: this.capturesDir, flushMs: LIVE_FLUSH_MS, ringBytes: this.opts.ringBytes ?? UI_ROLLING_CAPTURE_BYTES, notes: [`amp-workbench device side on ${profile.id}`] },
      });
    } catch (e) {
      served = { ok: false, error: describeFailure(e).text };
    } finally {
      this.busy = null;
    }
    if (!served.ok) return workbenchError('failed', `serving the devices of ${profile.id} failed: ${served.error}`);
    const session = served.value;
    const store = new TraceStore(session.trace.source, this.residentOption());
    this.store = store;
    this.unsubscribe = [
      this.followStore(store),
      session.onDeviceChange((d) => this.emit('session.device', { device: deviceToJson(servedAsDeviceState(d)) })),
    ];
    this.deviceSide = session;
    void session.lost.then((reason) => {
      if (this.deviceSide === session) void this.disconnect(`the driver's side is gone: ${reason}. The trace so far is kept`, true);
    });
    this.emit('trace.reset', store.info());
    return ok({ ...this.state(), bringUpError: null });
  }

  /** Tells the page how many records arrived (trace.appended); returns the unsubscribe. */
  private followStore(store: TraceStore): () => void {
    return store.follow((count) => this.emit('trace.appended', { count, total: store.held, ...(store.dropped > 0 ? { dropped: store.dropped } : {}) }));
  }

  private residentOption(): { residentBytes?: number } {
    return this.opts.residentBytes !== undefined ? { residentBytes: this.opts.residentBytes } : {};
  }

  private async disconnect(reason: string, lost: boolean): Promise<Reply> {
    const session = (this.session ?? this.deviceSide)!;
    this.session = null;
    await this.quietDevices(lost ? reason : 'the session was closed');
    this.loads.clear();
    this.deviceSide = null;
    const capture = session.trace.dir;
    let failure: FailureText | null = null;
    try {
      await session.close();
    } catch (e) {
      failure = describeFailure(e);
    } finally {
      // After close: the recorder's last flush (detach marker included) still reaches the store.
      for (const u of this.unsubscribe.splice(0)) u();
    }
    this.saveAnalysis(capture);
    // The session is over either way: the page must hear it.
    const why = failure && `closing the link failed: ${failure.text}`;
    this.emit('session.closed', { reason: why ? `${reason}; ${why}` : reason, capture, lost });
    return failure ? workbenchError('failed', `${why}; the capture is in ${capture}`, failureDetail(failure)) : ok({ capture, records: session.trace.records });
  }

  /**
   * Watches the board read-only (docs/amp-bus.md §4.6): the trace fills from what the driver and
   * the device already on the board say to each other; devices come from the observed messages.
   */
  private async startMonitor(profile: BoardProfile, link: LinkSpec | undefined): Promise<Reply> {
    this.busy = `starting to monitor ${profile.id}`;
    let monitor: MonitorSession;
    try {
      monitor = await openMonitorSession(profile, {
        ...(link ? { link } : {}),
        capture: { capturesDir: this.capturesDir, flushMs: LIVE_FLUSH_MS, ringBytes: this.opts.ringBytes ?? UI_ROLLING_CAPTURE_BYTES, notes: [`amp-workbench monitor on ${profile.id}`] },
      });
    } catch (e) {
      const kept = e instanceof SessionError && e.kept ? `; ${e.kept}` : '';
      return workbenchError('failed', `monitoring ${profile.id} failed: ${describeFailure(e).text}${kept}. A monitor watches a driver and a device already running on the board's shared memory (e.g. --link shm-file:FILE)`);
    } finally {
      this.busy = null;
    }
    const store = new TraceStore(monitor.trace.source, this.residentOption());
    this.store = store;
    this.opened = null;
    this.monitor = monitor;
    this.unsubscribe = [this.followStore(store)];
    void monitor.lost.then((reason) => {
      if (this.monitor === monitor) void this.stopMonitor(`lost the board: ${reason}. The trace so far is kept`, true);
    });
    this.emit('trace.reset', store.info());
    return ok({ ...this.state(), bringUpError: null });
  }

  private async stopMonitor(reason: string, lost = false): Promise<Reply> {
    const monitor = this.monitor!;
    this.monitor = null;
    const capture = monitor.trace.dir;
    try {
      await monitor.close();
    } finally {
      for (const u of this.unsubscribe.splice(0)) u();
    }
    this.emit('session.closed', { reason, capture, lost });
    return ok({ capture, records: monitor.trace.records });
  }

  /** The session, when it has device `devNum`. */
  private onDevice(devNum: number): Result<Session, WorkbenchError> {
    if (this.monitor) return workbenchError('bad-request', `a monitor only watches ${this.monitor.profile.id}: it never sends to a device; connect as the driver to reset or exercise one`);
    if (this.opened) return workbenchError('no-session', `${this.opened.path} is an opened capture: its devices are shown as its messages left them; connect a board to act on one`);
    const session = this.session;
    if (this.deviceSide) return workbenchError('read-only', 'the workbench is the device side here: the driver at the other end resets and drives the devices');
    if (!session) return workbenchError('no-session', 'no board is connected; connect a board first');
    if (!session.driver.state(devNum)) {
      const have = session.driver.states().map((d) => d.devNum);
      return workbenchError('not-found', `no device with dev_num ${devNum}; the board has ${have.length ? have.join(', ') : 'no devices'}`, { field: 'params.devNum' });
    }
    return { ok: true, value: session };
  }

  private async reset(devNum: number): Promise<Reply> {
    const s = this.onDevice(devNum);
    if (!s.ok) return s;
    // The load and the console reader would fail on queues the reset tears down.
    await this.quietDevices('the device was reset', devNum);
    return ok({ device: deviceToJson(await s.value.resetDevice(devNum)) });
  }

  /** Stops the loads and console readers (of one device, or all) and waits until they have. */
  private async quietDevices(reason: string, devNum?: number): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const [d, load] of this.loads) if (devNum === undefined || d === devNum) waits.push(load.stop(reason));
    for (const [d, c] of this.consoles) {
      if (devNum !== undefined && d !== devNum) continue;
      c.stop ??= reason;
      waits.push(c.done);
    }
    await Promise.all(waits);
  }

  /**
   * A workload request checked against the device and what else runs on it: the session and a
   * call that runs it once (the API's schema admits only registered kinds).
   */
  private workloadOn(p: WorkbenchParsedParams<'device.workload'>): Result<{ session: Session; run: () => ReturnType<RegisteredWorkload['workload']['run']> }, WorkbenchError> {
    const s = this.onDevice(p.devNum);
    if (!s.ok) return s;
    const session = s.value;
    const state = session.driver.state(p.devNum)!;
    const { device, workload } = WORKLOADS.get(p.kind)!;
    if (state.deviceId !== device.id) {
      return workbenchError('bad-request', `${p.kind} needs virtio device type ${device.id}, but dev_num ${p.devNum} is ${state.deviceType} (${state.deviceId})`, { field: 'params.kind' });
    }
    if (this.loads.get(p.devNum)?.isRunning) return workbenchError('busy', `a load is running on dev_num ${p.devNum}; stop it first`);
    if (this.consoles.has(p.devNum) && p.kind === 'console-send' && p.params.echo) {
      return workbenchError('busy', `the console terminal of dev_num ${p.devNum} reads receiveq, where the echo would come back; close the terminal to check the echo`, { field: 'params.params.echo' });
    }
    const queueAt = (queue: number) => {
      const c = session.driver.queueContext(p.devNum, queue);
      if (!c.ok) throw new Error(c.error);
      return c.value;
    };
    return { ok: true, value: { session, run: () => workload.run(queueAt, p.params) } };
  }

  private async workload(p: WorkbenchParsedParams<'device.workload'>): Promise<Reply> {
    const w = this.workloadOn(p);
    if (!w.ok) return w;
    const { session, run } = w.value;
    const t0 = session.runtime.monoNs();
    const r = await run();
    const latencyUs = Number(session.runtime.monoNs() - t0) / 1000;
    // The trace says why the workload failed (a bad used ring, a device that did not answer);
    // a session that ended under it has its own marker.
    if (!r.ok && session.endedBecause === null) session.recordError(`${p.kind} on device ${p.devNum} failed: ${r.error}`, p.devNum);
    return ok({
      kind: p.kind,
      devNum: p.devNum,
      succeeded: r.ok,
      error: r.ok ? null : r.error,
      latencyUs,
      reads: r.ok ? r.value.map((b) => toHex(b, '')) : [],
    });
  }

  private startLoad(p: WorkbenchParsedParams<'device.load'>): Reply {
    const { count, ...request } = p;
    const w = this.workloadOn(request);
    if (!w.ok) return w;
    const { session, run } = w.value;
    const load = new DeviceLoad({
      devNum: p.devNum,
      kind: p.kind,
      count,
      operation: async () => {
        const r = await run();
        return r.ok ? null : r.error;
      },
      monoNs: () => session.runtime.monoNs(),
      ended: () => session.endedBecause,
      onProgress: (progress) => this.emit('device.load', progress),
      onFirstError: (text) => session.recordError(`${p.kind} load on device ${p.devNum}: ${text}`, p.devNum),
    });
    this.loads.set(p.devNum, load);
    if (p.kind === 'console-send' && p.params.echo) {
      this.echoLoads.add(p.devNum);
      void load.finished.then(() => this.echoLoads.delete(p.devNum));
    }
    return ok(load.progress());
  }

  private async stopLoad(devNum: number): Promise<Reply> {
    const load = this.loads.get(devNum);
    if (!load?.isRunning) return workbenchError('not-found', `no load is running on dev_num ${devNum}`, { field: 'params.devNum' });
    return ok(await load.stop('stopped by the user'));
  }

  /** The session, when `devNum` is a virtio-console. */
  private onConsole(devNum: number): Result<Session, WorkbenchError> {
    const s = this.onDevice(devNum);
    if (!s.ok) return s;
    const state = s.value.driver.state(devNum)!;
    if (state.deviceId !== CONSOLE_DEVICE.id) {
      return workbenchError('bad-request', `dev_num ${devNum} is ${state.deviceType} (${state.deviceId}), not a virtio-console (${CONSOLE_DEVICE.id})`, { field: 'params.devNum' });
    }
    return s;
  }

  private openConsole(devNum: number): Reply {
    const s = this.onConsole(devNum);
    if (!s.ok) return s;
    if (this.consoles.has(devNum)) return ok({ devNum });
    if (this.echoLoads.has(devNum)) return workbenchError('busy', `the echo load on dev_num ${devNum} reads receiveq itself; stop it before opening the terminal`);
    const session = s.value;
    const rx = session.driver.queueContext(devNum, CONSOLE_RECEIVEQ);
    if (!rx.ok) return workbenchError('failed', `the console's receiveq cannot be read: ${rx.error}`);
    const reader: { stop: string | null; done: Promise<string> } = { stop: null, done: Promise.resolve('') };
    reader.done = readConsole(
      receiverFor(rx.value),
      () => reader.stop ?? session.endedBecause,
      (bytes) => this.emit('console.output', { devNum, data: toHex(bytes, ''), ended: null }),
    ).then((why) => {
      this.consoles.delete(devNum);
      this.emit('console.output', { devNum, data: '', ended: why });
      return why;
    });
    this.consoles.set(devNum, reader);
    return ok({ devNum });
  }

  private async writeConsole(devNum: number, text: string): Promise<Reply> {
    const s = this.onConsole(devNum);
    if (!s.ok) return s;
    const tx = s.value.driver.queueContext(devNum, CONSOLE_TRANSMITQ);
    if (!tx.ok) return workbenchError('failed', `the console's transmitq cannot be written: ${tx.error}`);
    const bytes = new TextEncoder().encode(text);
    const sent = await consoleWrite(tx.value, bytes);
    if (!sent.ok) return workbenchError('failed', `writing to the console of dev_num ${devNum} failed: ${sent.error}`);
    return ok({ devNum, bytes: bytes.length });
  }

  private async closeConsole(devNum: number): Promise<Reply> {
    const reader = this.consoles.get(devNum);
    if (!reader) return workbenchError('not-found', `the console of dev_num ${devNum} is not open`, { field: 'params.devNum' });
    reader.stop ??= 'closed by the user';
    await reader.done;
    return ok({ devNum });
  }

  private async buffer(devNum: number, queue: number, desc: number): Promise<Reply> {
    const s = this.onDevice(devNum);
    if (!s.ok) return s;
    const read = s.value.driver.readDescriptor(devNum, queue, desc, QUEUE_BUFFER_MAX);
    if (!read) return this.noQueue(s.value, devNum, queue);
    const r = await read;
    if (!r.ok) return workbenchError('not-found', r.error, { field: 'params.desc' });
    const { bytes, ...rest } = r.value;
    return ok({ devNum, queue, ...rest, bytes: toHex(bytes, '') });
  }

  private noQueue(session: Session, devNum: number, queue: number): Reply {
    const n = session.driver.state(devNum)!.queues.length;
    return workbenchError('not-found', `device ${devNum} has no queue ${queue} (it has ${n === 0 ? 'none set up' : `0..${n - 1}`})`, { field: 'params.queue' });
  }

  private async inspect(devNum: number, queue: number): Promise<Reply> {
    if (this.deviceSide) return this.inspectServed(this.deviceSide, devNum, queue);
    const m = this.monitor;
    if (m) {
      const device = m.devices().find((d) => d.devNum === devNum);
      const ring = m.inspectQueue(devNum, queue);
      if (!device || !ring) {
        return workbenchError('not-found', `no SET_VQUEUE for device ${devNum} queue ${queue} was observed, so its rings' addresses are unknown${device ? '' : ` (no message of device ${devNum} was observed)`}`, { field: 'params.queue' });
      }
      return ok({ devNum, queue, name: device.queues.find((q) => q.index === queue)!.name, ring: await ring });
    }
    if (this.opened && !this.session) return this.inspectOpened(this.opened.store, devNum, queue);
    const s = this.onDevice(devNum);
    if (!s.ok) return s;
    const { driver } = s.value;
    const ring = driver.inspectQueue(devNum, queue);
    const model = driver.state(devNum)!.queues[queue];
    if (!ring || !model) return this.noQueue(s.value, devNum, queue);
    return ok({ devNum, queue, name: model.name, ring: await ring });
  }

  /**
   * A virtqueue of an opened capture as its SET_VQUEUE left it: size and ring addresses; the
   * rings' memory is not in the capture, so no index, descriptor or chain is known.
   */
  private inspectOpened(store: TraceStore, devNum: number, queue: number): Reply {
    const devices = store.observedDevices();
    if (devices === null) return workbenchError('busy', `the capture's devices are still being read (${store.analysedCount} of ${store.count} records); ask again when they are shown`);
    const device = devices.find((d) => d.devNum === devNum);
    const q = device?.queues.find((x) => x.index === queue);
    if (!device || !q) {
      return workbenchError('not-found', `the capture holds no SET_VQUEUE for device ${devNum} queue ${queue}, so its size and rings' addresses are unknown${device ? '' : ` (no message of device ${devNum} is in it)`}`, { field: 'params.queue' });
    }
    const reason = "the rings' memory is not in the capture: the size and addresses are SET_VQUEUE's; indices, descriptors and chains are unknown";
    return ok({
      devNum,
      queue,
      name: q.name,
      ring: { size: q.size, descAddr: q.descAddr, driverAddr: q.driverAddr, deviceAddr: q.deviceAddr, avail: null, used: null, lastSeenUsed: null, inFlight: null, descriptors: [], chains: [], usedNotSeen: [], recent: [], problems: [{ code: 'not-captured', reason }] },
    });
  }

  /** A served queue, read where the driver put its rings. */
  private async inspectServed(served: DeviceSession, devNum: number, queue: number): Promise<Reply> {
    const device = served.devices().find((d) => d.devNum === devNum);
    if (!device) return workbenchError('not-found', `no device with dev_num ${devNum}; the workbench serves ${served.devices().map((d) => d.devNum).join(', ')}`, { field: 'params.devNum' });
    const ring = served.inspectQueue(devNum, queue);
    const model = servedAsDeviceState(device).queues.find((q) => q.index === queue);
    if (!ring || !model) return workbenchError('not-found', `the driver has not set up queue ${queue} of device ${devNum}`, { field: 'params.queue' });
    return ok({ devNum, queue, name: model.name, ring: await ring });
  }

  private async export(s: TraceStore, p: WorkbenchParsedParams<'trace.export'>, signal: CancelSignal | undefined): Promise<Reply> {
    if (!isAbsolute(p.out)) return workbenchError('bad-request', `the output file must be a full path on the workbench's machine (such as /home/me/trace.pcapng), saw "${p.out}"`, { field: 'params.out' });
    if (this.exporting) return workbenchError('busy', `an export to ${this.exporting.out} is running; wait for it or cancel it`);
    // A folder of that name is not replaced either: the export says why it cannot write there.
    if (!p.overwrite && statSync(p.out, { throwIfNoEntry: false })?.isFile()) return workbenchError('exists', `${p.out} already exists; choose another name or replace it`, { field: 'params.out' });
    // Everything recorded so far goes into the file, not only what the last flush delivered.
    if (s.live) (this.session ?? this.deviceSide)?.trace.recorder.flush();
    // Cancelled by trace.cancelExport, or by the caller's own signal.
    const abort = new AbortController();
    const cancel = (): void => abort.abort();
    if (signal?.aborted) cancel();
    signal?.addEventListener('abort', cancel);
    this.exporting = { out: p.out, abort };
    try {
      const r = await exportCaptureAsync(s.source, {
        format: p.format,
        out: p.out,
        ...(p.filter !== undefined ? { filter: p.filter } : {}),
        ...(p.fromNs !== undefined ? { fromNs: p.fromNs } : {}),
        ...(p.toNs !== undefined ? { toNs: p.toNs } : {}),
        ...(p.seqs !== undefined ? { seqs: p.seqs } : {}),
        onProgress: (done, total) => this.emit('export.progress', { out: p.out, done, total }),
        signal: abort.signal,
      });
      if (r.ok) return ok({ out: p.out, written: r.value.written, scanned: r.value.scanned, bytes: r.value.bytes, dropped: r.value.dropped });
      const code = abort.signal.aborted ? 'cancelled' : r.error.startsWith('filter:') ? 'bad-filter' : 'failed';
      return workbenchError(code, r.error);
    } finally {
      signal?.removeEventListener('abort', cancel);
      this.exporting = null;
    }
  }

  /**
   * Finishes the session's analysis (in slices, as for an opened capture: most of it was made
   * while the views asked) and saves it in its capture folder, so opening the capture later
   * fills the analysis views at once. A capture that cannot take it is analysed when opened.
   */
  private saveAnalysis(dir: string): void {
    const store = this.store;
    if (store === null) return;
    void store.prepare(() => this.store === store && !this.closed).then(() => {
      const a = store.savedAnalysis();
      if (a !== null) writeAnalysisFile(dir, a);
    });
  }

  private open(path: string): Reply {
    if (this.session || this.deviceSide || this.monitor || this.busy) return workbenchError('busy', `${this.busy ?? 'a board is connected'}; disconnect first (its capture stays on disk)`);
    const o = loadCapture(path);
    if (!o.ok) return workbenchError('not-found', o.error, { field: 'params.path' });
    // A capture the workbench wrote carries its analysis (analysisFile.ts); others are analysed below.
    const source = o.value;
    const analysis = source.fingerprint ? readAnalysisFile(source.path, source.fingerprint()) : null;
    const store = new TraceStore(source, { ...this.residentOption(), analysis });
    this.store = store;
    this.opened = { board: source.meta.board, link: source.meta.link, path, store };
    const info = store.info();
    this.emit('trace.reset', info);
    // Statistics, Expert, Transactions and the devices read one pass over the capture: make it now,
    // in slices; the Devices and Queues views hear of the devices when it is done.
    const wanted = (): boolean => this.store === store && !this.closed;
    void store.prepare(wanted).then(() => {
      if (!wanted()) return;
      for (const device of store.observedDevices() ?? []) this.emit('session.device', { device });
    });
    return ok(info);
  }
}
