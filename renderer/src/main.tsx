/** Entry: finds the engine client (the desktop app's port or the web mode's socket), then mounts the workbench. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

// The theme's variables and base rules first: every component stylesheet builds on them.
import './theme.css';

import { App } from './App';
import { getApi } from './engine/api';
import { errorText } from '../../src/util/errorText';

const root = createRoot(document.getElementById('root')!);

getApi().then(
  (api) =>
    root.render(
      <StrictMode>
        <App api={api} />
      </StrictMode>,
    ),
  (e: unknown) =>
    root.render(
      <div className="error-note" role="alert">
        <strong>The workbench is not reachable.</strong> {errorText(e)}
      </div>,
    ),
);
