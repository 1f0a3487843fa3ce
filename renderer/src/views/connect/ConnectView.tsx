/**
 * Connect: pick a built-in board (the default simulated one a click away) or load a profile file
 * (validated with profile.validate, each error shown at its field and line), optionally a link
 * spec, then watch the attach progress through the bus handshake stages (session.stage) and,
 * when it fails, read what to try.
 */
import { useEffect, useRef, useState, type DragEvent } from 'react';

import type { WorkbenchError, WorkbenchParams, WorkbenchResult } from '../../../../src/api/workbench';
import type { WorkbenchApi } from '../../engine/api';
import { Chip } from '../../ui/Chip';
import { ErrorNote } from '../../ui/ErrorNote';
import { useSession } from '../../ui/useSession';
import { phaseTone } from '../devices/deviceTone';

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
  if (error.code === 'busy') return ['Disconnect the connected board first: one session at a time.'];
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

export function ConnectView({ api, onConnected }: { api: WorkbenchApi; onConnected?: () => void }) {
  const session = useSession(api);
  const [boards, setBoards] = useState<Board[] | null>(null);
  const [boardsError, setBoardsError] = useState<WorkbenchError | null>(null);
  const [linkSpec, setLinkSpec] = useState('');
  /** Drive the board, or watch its own driver and device read-only (docs/amp-bus.md §4). */
  const [role, setRole] = useState<'driver' | 'monitor'>('driver');
  const [profile, setProfile] = useState<LoadedProfile | null>(null);
  const [stages, setStages] = useState<{ stage: string; detail: string }[]>([]);
  const [connecting, setConnecting] = useState<string | null>(null);
  const [failure, setFailure] = useState<{ error: WorkbenchError; tryThis: string[] } | null>(null);
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    void api.call('boards.list', {}).then((r) => (r.ok ? setBoards(r.result.boards) : setBoardsError(r.error)));
    return api.onEvent((e) => {
      if (e.event === 'session.stage') setStages((s) => [...s, e.data]);
    });
  }, [api]);

  const connect = async (what: string, params: WorkbenchParams<'session.connect'>): Promise<void> => {
    setStages([]);
    setFailure(null);
    setConnecting(what);
    const link = linkSpec.trim();
    const r = await api.call('session.connect', { ...params, ...(link ? { link } : {}), ...(role === 'monitor' ? { role } : {}) });
    setConnecting(null);
    if (!r.ok) {
      setFailure({ error: r.error, tryThis: tryAfter(r.error) });
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

  const load = async (file: File): Promise<void> => {
    const text = await file.text();
    setProfile({ fileName: file.name, text, result: null, error: null });
    const r = await api.call('profile.validate', { text, fileName: file.name });
    setProfile({ fileName: file.name, text, result: r.ok ? r.result : null, error: r.ok ? null : r.error });
  };

  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    setDragging(false);
    const f = e.dataTransfer.files[0];
    if (f) void load(f);
  };

  const state = session.state;
  const defaultBoard = boards?.find((b) => b.default);
  const reached = new Set(stages.map((s) => s.stage));

  return (
    <div className="connect-view">
      {state?.connected ? (
        <section className="card">
          <h2>
            Connected to <span data-testid="connected-board">{state.board}</span>
          </h2>
          <p className="muted">
            {state.link} · recording to <code>{state.capture}</code>
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
          <button onClick={() => void disconnect()}>Disconnect</button>
        </section>
      ) : (
        <section className="card">
          <h2>Connect a board</h2>
          <button className="primary big" disabled={!defaultBoard || connecting !== null} onClick={() => void connect(defaultBoard!.id, { board: defaultBoard!.id })}>
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

      <section className="card">
        <h3>Boards</h3>
        {boardsError && <ErrorNote error={boardsError} />}
        {!boards && !boardsError && <p className="muted">Loading boards…</p>}
        {boards && (
          <table className="grid">
            <thead>
              <tr>
                <th>Board</th>
                <th>Description</th>
                <th>Bus</th>
                <th>Devices</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {boards.map((b) => (
                <tr key={b.id}>
                  <td>
                    <code>{b.id}</code> <Chip tone={b.simulated ? 'accent' : 'neutral'}>{b.simulated ? 'simulated' : 'hardware'}</Chip>
                    {b.default && <Chip tone="ok">default</Chip>}
                  </td>
                  <td className="wrap">{b.description}</td>
                  <td className="mono">
                    {b.format}
                    {b.revision ? ` ${b.revision}` : ''}
                  </td>
                  <td>{b.devices.length ? b.devices.map((d) => `${d.devNum}:${d.kind}`).join(' ') : <span className="muted">discovered</span>}</td>
                  <td>
                    <button disabled={state?.connected || connecting !== null} onClick={() => void connect(b.id, { board: b.id })}>
                      Connect
                    </button>
                  </td>
                </tr>
              ))}
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
                  disabled={state?.connected || connecting !== null}
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
  );
}
