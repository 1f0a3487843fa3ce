/**
 * A terminal on a virtio-console: while open, the engine reads receiveq and console.output events
 * bring what the device writes; a line typed here goes out on transmitq with its newline. The
 * transcript is kept in viewState (it keeps growing while another view is open).
 */
import { useEffect, useRef, useState } from 'react';

import type { WorkbenchError } from '../../../../src/api/workbench';
import type { WorkbenchApi } from '../../engine/api';
import { ErrorNote } from '../../ui/ErrorNote';
import { useConsole, useKept } from './viewState';

export function ConsoleTerminal({ api, devNum, blocked }: { api: WorkbenchApi; devNum: number; blocked: string | null }) {
  const [con, setCon] = useConsole(api, devNum);
  const [line, setLine] = useKept(api, `form/${devNum}/terminal`, '');
  const [error, setError] = useState<WorkbenchError | null>(null);
  const screen = useRef<HTMLPreElement>(null);

  useEffect(() => {
    const el = screen.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [con.text]);

  const open = async (): Promise<void> => {
    const r = await api.call('console.open', { devNum });
    setError(r.ok ? null : r.error);
    if (r.ok) setCon((c) => ({ ...c, open: true, ended: null }));
  };
  const close = async (): Promise<void> => {
    const r = await api.call('console.close', { devNum });
    setError(r.ok ? null : r.error);
  };
  const send = async (): Promise<void> => {
    const text = `${line}\n`;
    setLine('');
    const r = await api.call('console.write', { devNum, text });
    setError(r.ok ? null : r.error);
  };
  const inputOff = blocked ?? (con.open ? null : 'Open the terminal first.');

  return (
    <div className="console-terminal">
      <h4>
        Console{' '}
        {con.open ? (
          <button onClick={() => void close()} disabled={blocked !== null} title={blocked ?? 'Stop reading receiveq'}>
            Close terminal
          </button>
        ) : (
          <button onClick={() => void open()} disabled={blocked !== null} title={blocked ?? 'Read what the device writes on receiveq and type to it on transmitq'}>
            Open terminal
          </button>
        )}
      </h4>
      <pre ref={screen} className="terminal mono" role="log" aria-label={`Console of device ${devNum}`} tabIndex={0}>
        {con.text}
        {con.text === '' && <span className="muted">{con.open ? '(nothing received yet)' : '(closed)'}</span>}
      </pre>
      <form
        className="terminal-input"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <input value={line} onChange={(e) => setLine(e.target.value)} aria-label="Console input" placeholder={inputOff ?? 'type a line, Enter sends it'} disabled={inputOff !== null} title={inputOff ?? undefined} className="mono" />
        <button type="submit" disabled={inputOff !== null} title={inputOff ?? 'Send the line and a newline'}>
          Send line
        </button>
      </form>
      {con.ended && !con.open && <p className="muted">Terminal closed: {con.ended}</p>}
      {error && <ErrorNote error={error} />}
    </div>
  );
}
