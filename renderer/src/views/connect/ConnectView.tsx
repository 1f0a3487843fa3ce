/**
 * Connect: pick a built-in board (the default simulated one a click away; each board says whether
 * its hardware is present on the engine's machine and why not) or load a profile file (validated
 * with profile.validate, each error shown at its field and line), optionally a link spec, then
 * watch the attach progress through the bus handshake stages (session.stage) and, when it fails,
 * read what to try. Another board, or a recent capture, is one click away while connected: the
 * session is ended first. Two columns on a wide screen: the session, recent captures and a profile
 * file on the left, the boards on the right.
 */
import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';

import type { RecentCapture, TraceInfo, WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import type { WorkbenchApi } from '../../engine/api';
import { Chip, type ChipTone } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';
import { linkDetail } from '../../ui/linkDetail';
import { afterDisconnect } from '../../../../src/api/switchSession';
import { useSession } from '../../ui/useSession';
import { phaseTone } from '../devices/deviceTone';
import { fileTransfer, openCaptureFile } from '../export/captureFiles';

import './ConnectView.css';

type Board = WorkbenchResult<'boards.list'>['boards'][number];
type ProfileError = Extract<WorkbenchResult<'profile.validate'>, { valid: false }>['errors'][number];

interface LoadedProfile {
  fileName: string;
  text: string;
  result: WorkbenchResult<'profile.validate'> | null;
  error: WorkbenchError | null;
}

/** The bus handshake in order (AttachStage, src/bus/queue.ts); a format may skip some. */
const STAGE_ORDER = ['layout-wait', 'layout-valid', 'layout-written', 'own-head-init', 'peer-wait', 'ready', 'run'];

export function tryAfter(error: WorkbenchError): string[] {
  if (error.code === 'busy') return ['Wait for the connect or open in progress to finish: one session at a time.'];
  if (error.code === 'read-only') return ['Another window controls the session: use "Take control" in the header.'];
  if (error.field === 'params.link') return ['Write the link as the CLI takes it: sim, shm-file:FILE, serial:PORT@BAUD, pci[:BDF] (amp-workbench --help).'];
  if (error.field === 'params.profileText') return ['Fix the profile errors shown at their fields below, then load the file again.'];
  if (error.code === 'failed') {
    return [
      'Check that the board is powered and its firmware is running.',
      'Check the link: cable and port, the link spec, permissions on /dev/uio* or the serial device.',
      'Connect to the simulated board to check the workbench itself.',
    ];
  }
  return [];
}

function errorsByLine(errors: readonly ProfileError[]): Map<number, ProfileError[]> {
  const m = new Map<number, ProfileError[]>();
  for (const e of errors) {
    const line = e.line ?? 1;
    m.set(line, [...(m.get(line) ?? []), e]);
  }
  return m;
}

function where(e: ProfileError): string {
  return e.line === undefined ? '' : `line ${e.line}${e.column !== undefined ? `:${e.column}` : ''}`;
}

/** The profile's text with each error under the line it points at. */
function ProfileErrors({ text, errors }: { text: string; errors: readonly ProfileError[] }) {
  const byLine = errorsByLine(errors);
  const source = useRef<HTMLPreElement>(null);
  // Bring the first bad line into the source pane's view (the pane is the offset parent).
  useEffect(() => {
    const bad = source.current?.querySelector<HTMLElement>('.src-bad');
    if (source.current && bad) source.current.scrollTop = Math.max(0, bad.offsetTop - 40);
  }, [text, errors]);
  return (
    <div className="profile-errors">
      <p className="error-text">
        {errors.length} {errors.length === 1 ? 'error' : 'errors'} in the profile:
      </p>
      <ul className="profile-error-list">
        {errors.map((e, i) => (
          <li key={i} data-field={e.field}>
            <code className="profile-field">{e.field}</code> <span className="muted">{where(e)}</span> {e.message}
          </li>
        ))}
      </ul>
      <pre ref={source} className="profile-source mono" aria-label="Profile source">
        {text.split('\n').map((line, i) => {
          const here = byLine.get(i + 1);
          return (
            <div key={i} className={here ? 'src-line src-bad' : 'src-line'}>
              <span className="src-no">{i + 1}</span>
              {line}
              {here?.map((e, k) => (
                <div key={k} className="src-error" data-field-at-line={e.field}>
                  {' '.repeat(Math.max(0, (e.column ?? 1) - 1))}^ {e.field}: {e.message}
                </div>
              ))}
            </div>
          );
        })}
      </pre>
    </div>
  );
}

const PRESENCE_TONE: Readonly<Record<Board['presence']['state'], ChipTone>> = { present: 'ok', absent: 'neutral', unknown: 'warn' };
const PRESENCE_TEXT: Readonly<Record<Board['presence']['state'], string>> = { present: 'present', absent: 'not found', unknown: 'not probed' };

const when = new Intl.DateTimeFormat('en-GB', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

interface ConnectViewProps {
  api: WorkbenchApi;
  onConnected?: () => void;
  /** A capture was opened from the recent list or a file. */
  onOpened?: (info: TraceInfo) => void;
  /** Why this window may not connect or open (a viewer in web mode, the engine unreachable); null when it may. */
  blocked?: string | null;
}

export function ConnectView({ api, onConnected, onOpened, blocked = null }: ConnectViewProps) {
  const session = useSession(api);
  const [boards, setBoards] = useState<Board[] | null>(null);
  const [boardsError, setBoardsError] = useState<WorkbenchError | null>(null);
  const [recent, setRecent] = useState<{ folder: string; captures: RecentCapture[] } | null>(null);
  const [linkSpec, setLinkSpec] = useState('');
  /** Drive the board, or watch its own driver and device read-only (docs/amp-bus.md §4). */
  const [role, setRole] = useState<'driver' | 'monitor'>('driver');
  const [profile, setProfile] = useState<LoadedProfile | null>(null);
  const [stages, setStages] = useState<{ stage: string; detail: string }[]>([]);
  const [connecting, setConnecting] = useState<string | null>(null);
  const [failure, setFailure] = useState<{ error: WorkbenchError; tryThis: string[] } | null>(null);
  const [dragging, setDragging] = useState(false);

  const listRecent = useCallback(() => {
    void api.call('capture.recent', {}).then((r) => r.ok && setRecent(r.result));
  }, [api]);

  useEffect(() => {
    void api.call('boards.list', {}).then((r) => (r.ok ? setBoards(r.result.boards) : setBoardsError(r.error)));
    listRecent();
    return api.onEvent((e) => {
      if (e.event === 'session.stage') setStages((s) => [...s, e.data]);
      // A session that ended has its capture closed: the list shows it with its count.
      else if (e.event === 'session.closed' || e.event === 'trace.reset') listRecent();
    });
  }, [api, listRecent]);

  const state = session.state;
  const connected = state?.connected ?? false;

  const connect = async (what: string, params: WorkbenchParams<'session.connect'>): Promise<void> => {
    setStages([]);
    setFailure(null);
    setConnecting(what);
    const link = linkSpec.trim();
    const r = await afterDisconnect(() => api.call('session.disconnect', {}), connected, () => api.call('session.connect', { ...params, ...(link ? { link } : {}), ...(role === 'monitor' ? { role } : {}) }));
    setConnecting(null);
    if (!r.ok) {
      setFailure({ error: r.error, tryThis: tryAfter(r.error) });
      await session.refresh();
      return;
    }
    session.set(r.result);
    if (r.result.bringUpError) {
      setFailure({
        error: { code: 'failed', message: r.result.bringUpError },
        tryThis: ['Open Devices to see which device failed and reset it.', 'Look in Trace for the request that got no or a bad response.'],
      });
    } else onConnected?.();
  };

  const disconnect = async (): Promise<void> => {
    const r = await api.call('session.disconnect', {});
    if (!r.ok) setFailure({ error: r.error, tryThis: tryAfter(r.error) });
    await session.refresh();
  };

  const opened = async (r: { ok: true; value: TraceInfo } | { ok: false; error: WorkbenchError }): Promise<void> => {
    setConnecting(null);
    await session.refresh();
    if (!r.ok) return setFailure({ error: r.error, tryThis: tryAfter(r.error) });
    onOpened?.(r.value);
  };

  const openRecent = async (path: string): Promise<void> => {
    setFailure(null);
    setConnecting(path);
    const r = await afterDisconnect(() => api.call('session.disconnect', {}), connected, () => api.call('capture.open', { path }));
    await opened(r.ok ? { ok: true, value: r.result } : r);
  };

  const openFile = async (file: File | undefined): Promise<void> => {
    setFailure(null);
    setConnecting(file?.name ?? 'capture');
    const r = await afterDisconnect(() => api.call('session.disconnect', {}), connected, async () => {
      const o = await openCaptureFile(api, file);
      return o.ok ? { ok: true as const, result: o.value } : o;
    });
    await opened(r.ok ? { ok: true, value: r.result } : r);
  };

  const load = async (file: File): Promise<void> => {
    const text = await file.text();
    setProfile({ fileName: file.name, text, result: null, error: null });
    const r = await api.call('profile.validate', { text, fileName: file.name });
    setProfile({ fileName: file.name, text, result: r.ok ? r.result : null, error: r.ok ? null : r.error });
  };

  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    e.stopPropagation();
    setDragging(false);
    const f = e.dataTransfer.files[0];
    if (f) void load(f);
  };

  const defaultBoard = boards?.find((b) => b.default);
  const reached = new Set(stages.map((s) => s.stage));
  const busy = connecting !== null;
  // Why a board's Connect button is off; null when it is on.
  const boardBlocked = (id: string): string | null => blocked ?? (busy ? `busy with ${connecting}` : connected && state?.board === id ? `connected to ${id} now` : null);
  const switching = connected ? ` (ends the session on ${state?.board}; its capture stays on disk)` : '';

  return (
    <div className="connect-view">
      <div className="connect-column">
        {blocked && (
          <p className="connect-blocked muted" role="note">
            {blocked}
          </p>
        )}
        {connected && state ? (
          <section className="card">
            <h2>
              Connected to <span data-testid="connected-board">{state.board}</span>
            </h2>
            <p className="muted">
              {linkDetail(state.link ?? '', state.board ?? '')} · recording to <code>{state.capture}</code>
            </p>
            <ul className="device-summary">
              {state.devices.map((d) => (
                <li key={d.devNum}>
                  dev {d.devNum} {d.deviceName} <Chip tone={phaseTone(d.phase)}>{d.phase}</Chip>
                </li>
              ))}
            </ul>
            {[...state.notices, ...state.findings].map((n) => (
              <p key={n} className="muted">
                {n}
              </p>
            ))}
            <button onClick={() => void disconnect()} disabled={blocked !== null} title={blocked ?? 'End the session; its capture stays on disk'}>
              Disconnect
            </button>
          </section>
        ) : (
          <section className="card">
            <h2>Connect a board</h2>
            {state?.source === 'capture' && state.capture && (
              <p className="muted">
                Showing the capture <code>{state.capture}</code> (read-only). Connecting starts a live session in its place.
              </p>
            )}
            <button
              className="primary big"
              disabled={!defaultBoard || busy || blocked !== null}
              title={blocked ?? undefined}
              onClick={() => void connect(defaultBoard!.id, { board: defaultBoard!.id })}
            >
              Connect to simulated board{defaultBoard ? ` (${defaultBoard.id})` : ''}
            </button>
            <label className="link-spec">
              Link (optional){' '}
              <input value={linkSpec} onChange={(e) => setLinkSpec(e.target.value)} placeholder="sim, shm-file:FILE, serial:PORT@BAUD, pci[:BDF]" size={44} />
            </label>
            <fieldset className="connect-role" aria-label="Role">
              <label>
                <input type="radio" name="role" checked={role === 'driver'} onChange={() => setRole('driver')} /> Drive the board (the workbench is the driver)
              </label>
              <label>
                <input type="radio" name="role" checked={role === 'monitor'} onChange={() => setRole('monitor')} /> Monitor: watch the board&apos;s own driver and device,
                read-only (never writes, rings no doorbell; e.g. link shm-file:FILE)
              </label>
            </fieldset>
          </section>
        )}

        {(connecting !== null || stages.length > 0) && (
          <section className="card" aria-label="Attach progress">
            <h3>{connecting ? `Connecting to ${connecting}…` : 'Handshake'}</h3>
            <ol className="stages">
              {STAGE_ORDER.filter((s) => reached.has(s) || connecting).map((s) => {
                const last = stages.filter((x) => x.stage === s).at(-1);
                return (
                  <li key={s} className={last ? 'stage-done' : 'stage-pending'}>
                    <code>{s}</code> {last && <span className="muted">{last.detail}</span>}
                  </li>
                );
              })}
            </ol>
          </section>
        )}

        {failure && <ErrorNote error={failure.error} tryThis={failure.tryThis} />}

        <section className="card" aria-label="Recent captures">
          <h3>Recent captures</h3>
          <label className="capture-file">
            Open a capture file{fileTransfer(api) ? ' from this computer (uploaded to the workbench)' : ''}:{' '}
            <input type="file" accept=".pcapng,.jsonl" aria-label="Capture file" disabled={busy || blocked !== null} onChange={(e) => void openFile(e.target.files?.[0])} />
          </label>
          {recent && recent.captures.length === 0 && <p className="muted">No captures in {recent.folder} yet: every session records one there.</p>}
          {recent && recent.captures.length > 0 && (
            <table className="grid recent-captures">
              <thead>
                <tr>
                  <th>Started</th>
                  <th>Board</th>
                  <th>Records</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {recent.captures.map((c) => {
                  const live = connected && state?.capture === c.path;
                  const off = blocked ?? (busy ? `busy with ${connecting}` : live ? "this is the live session's capture" : null);
                  return (
                    <tr key={c.path} title={c.path}>
                      <td>{when.format(new Date(c.startMs))}</td>
                      <td>
                        <code>{c.board}</code>
                      </td>
                      <td className="num">{c.records === null ? <span className="muted">{live ? 'recording' : 'not closed'}</span> : c.records.toLocaleString('en')}</td>
                      <td>
                        <button disabled={off !== null} title={off ?? `Open ${c.path}${switching}`} onClick={() => void openRecent(c.path)}>
                          Open
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </section>

        <section
          className={dragging ? 'card drop-zone dragging' : 'card drop-zone'}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <h3>Board profile file</h3>
          <p className="muted">Drop an amp-board-profile/0 JSON file here, or choose one:</p>
          <input
            type="file"
            accept=".json,application/json"
            aria-label="Profile file"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void load(f);
            }}
          />
          {profile && (
            <div className="profile-result" data-testid="profile-result">
              <p>
                <code>{profile.fileName}</code>
              </p>
              {profile.error && <ErrorNote error={profile.error} />}
              {profile.result === null && !profile.error && <p className="muted">Validating…</p>}
              {profile.result?.valid === true && (
                <p>
                  <Chip tone="ok">valid</Chip> <code>{profile.result.id}</code> {profile.result.description}{' '}
                  <button
                    className="primary"
                    disabled={busy || blocked !== null}
                    title={blocked ?? `Connect with this profile${switching}`}
                    onClick={() => void connect(profile.fileName, { profileText: profile.text, fileName: profile.fileName })}
                  >
                    Connect with this profile
                  </button>
                </p>
              )}
              {profile.result?.valid === false && <ProfileErrors text={profile.text} errors={profile.result.errors} />}
            </div>
          )}
        </section>
      </div>

      <div className="connect-column">
        <section className="card">
          <h3>Boards</h3>
          {boardsError && <ErrorNote error={boardsError} />}
          {!boards && !boardsError && <p className="muted">Loading boards…</p>}
          {boards && (
            <table className="grid">
              <thead>
                <tr>
                  <th>Board</th>
                  <th>Hardware</th>
                  <th>Bus</th>
                  <th>Devices</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {boards.map((b) => {
                  const off = boardBlocked(b.id);
                  return (
                    <tr key={b.id} data-board={b.id}>
                      <td className="wrap">
                        <code>{b.id}</code> <Chip tone={b.simulated ? 'accent' : 'neutral'}>{b.simulated ? 'simulated' : 'hardware'}</Chip>
                        {b.default && <Chip tone="ok">default</Chip>}
                        <div className="muted board-description">{b.description}</div>
                      </td>
                      <td className="wrap presence" data-presence={b.presence.state}>
                        <Chip tone={PRESENCE_TONE[b.presence.state]}>{PRESENCE_TEXT[b.presence.state]}</Chip>
                        <div className="muted">{b.presence.reason}</div>
                      </td>
                      <td className="mono">
                        {b.format}
                        {b.revision ? ` ${b.revision}` : ''}
                      </td>
                      <td className="wrap">{b.devices.length ? b.devices.map((d) => `${d.devNum}:${d.kind}`).join(' ') : <span className="muted">discovered</span>}</td>
                      <td>
                        <button disabled={off !== null} title={off ?? `Connect to ${b.id}${switching}`} onClick={() => void connect(b.id, { board: b.id })}>
                          {!connected ? 'Connect' : state?.board === b.id ? 'Connected' : 'Switch'}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </div>
  );
}
