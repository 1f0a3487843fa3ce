import type { WorkbenchError } from '../../../src/api/workbench';

import './ui.css';

/** An engine error as the user reads it: the message, and what to try when we know more. */
export function ErrorNote({ error, tryThis }: { error: WorkbenchError | string; tryThis?: readonly string[] }) {
  const message = typeof error === 'string' ? error : error.message;
  return (
    <div className="error-note" role="alert">
      <div>{message}</div>
      {tryThis && tryThis.length > 0 && (
        <ul className="try-this">
          {tryThis.map((t) => (
            <li key={t}>{t}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
