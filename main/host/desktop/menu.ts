/**
 * The native menus as data: labels, accelerators, roles and, for our own items, the action a click
 * dispatches. The objects have the shape of Electron's MenuItemConstructorOptions (main/app passes
 * them to Menu.buildFromTemplate unchanged), so the whole menu is tested without Electron.
 */
import { THEMES, VIEW_TABS, type ThemeName, type ViewName } from '../../../src/api/desktop';

/** Roles we use (Electron implements them). */
export type MenuRole =
  | 'appMenu'
  | 'quit'
  | 'undo'
  | 'redo'
  | 'cut'
  | 'copy'
  | 'paste'
  | 'selectAll'
  | 'reload'
  | 'toggleDevTools'
  | 'resetZoom'
  | 'zoomIn'
  | 'zoomOut'
  | 'togglefullscreen'
  | 'windowMenu';

export interface MenuItemTemplate {
  /** Our items: the action id ("file.open-capture"), so tests and logs can name them. */
  id?: string;
  label?: string;
  role?: MenuRole;
  type?: 'normal' | 'separator' | 'submenu' | 'checkbox' | 'radio';
  accelerator?: string;
  enabled?: boolean;
  checked?: boolean;
  submenu?: MenuItemTemplate[];
  click?: () => void;
}

export type MenuAction =
  | { id: 'file.open-capture' }
  | { id: 'file.open-recent'; path: string }
  | { id: 'file.clear-recent' }
  | { id: 'file.export' }
  /** board: a built-in board id to connect at once; null: show the Connect view to pick one. */
  | { id: 'board.connect'; board: string | null }
  | { id: 'board.disconnect' }
  | { id: 'board.reset-device'; devNum: number }
  | { id: 'view.theme'; theme: ThemeName }
  | { id: 'view.show'; view: ViewName }
  | { id: 'view.command-palette' }
  | { id: 'help.docs' }
  | { id: 'help.logs' }
  | { id: 'help.install-dissector' }
  /** The live-capture extcap and the dissector (main/host/extcap/install.ts). */
  | { id: 'help.install-extcap' };

export interface MenuState {
  platform: NodeJS.Platform;
  /** Development build: reload and developer tools in the View menu. */
  dev: boolean;
  connected: boolean;
  /** A trace is loaded (live or opened), so Export has something to export. */
  hasTrace: boolean;
  devices: readonly { devNum: number; name: string }[];
  recentBoards: readonly string[];
  recentCaptures: readonly string[];
  defaultBoard: string;
  theme: ThemeName;
  view: ViewName;
}

const THEME_LABELS: Record<ThemeName, string> = { system: 'System Theme', light: 'Light Theme', dark: 'Dark Theme' };

/** Menu labels show "&" literally only when doubled (Windows/Linux mnemonics). */
function literal(text: string): string {
  return text.replace(/&/g, '&&');
}

export function buildMenuTemplate(state: MenuState, dispatch: (action: MenuAction) => void): MenuItemTemplate[] {
  const item = (action: MenuAction, label: string, extra: Omit<MenuItemTemplate, 'id' | 'label' | 'click'> = {}): MenuItemTemplate => ({
    id: action.id,
    label,
    ...extra,
    click: () => dispatch(action),
  });
  const sep: MenuItemTemplate = { type: 'separator' };
  const mac = state.platform === 'darwin';

  const recent: MenuItemTemplate[] = state.recentCaptures.length
    ? [...state.recentCaptures.map((path) => item({ id: 'file.open-recent', path }, literal(path))), sep, item({ id: 'file.clear-recent' }, 'Clear Recent')]
    : [{ label: 'No Recent Captures', enabled: false }];

  const file: MenuItemTemplate = {
    label: '&File',
    submenu: [
      item({ id: 'file.open-capture' }, 'Open Capture…', { accelerator: 'CmdOrCtrl+O' }),
      { label: 'Recent Captures', submenu: recent },
      sep,
      item({ id: 'file.export' }, 'Export…', { accelerator: 'CmdOrCtrl+E', enabled: state.hasTrace }),
      ...(mac ? [] : [sep, { role: 'quit' as const }]),
    ],
  };

  const boards = [...new Set([...state.recentBoards, state.defaultBoard])];
  const board: MenuItemTemplate = {
    label: '&Board',
    submenu: [
      {
        label: state.connected ? 'Switch To' : 'Connect',
        submenu: [
          ...boards.map((b) => item({ id: 'board.connect', board: b }, literal(b === state.defaultBoard ? `${b} (default, simulated)` : b))),
          sep,
          item({ id: 'board.connect', board: null }, 'Choose a Board…', { accelerator: 'CmdOrCtrl+K' }),
        ],
      },
      item({ id: 'board.disconnect' }, 'Disconnect', { enabled: state.connected }),
      sep,
      {
        label: 'Reset Device…',
        enabled: state.connected && state.devices.length > 0,
        submenu: state.devices.map((d) => item({ id: 'board.reset-device', devNum: d.devNum }, literal(`dev ${d.devNum}: ${d.name}…`))),
      },
    ],
  };

  const view: MenuItemTemplate = {
    label: '&View',
    submenu: [
      ...VIEW_TABS.map((v, i) => item({ id: 'view.show', view: v.id }, v.title, { type: 'radio', checked: state.view === v.id, accelerator: `CmdOrCtrl+${i + 1}` })),
      sep,
      ...THEMES.map((t) => item({ id: 'view.theme', theme: t }, THEME_LABELS[t], { type: 'radio', checked: state.theme === t })),
      sep,
      item({ id: 'view.command-palette' }, 'Command Palette…', { accelerator: 'CmdOrCtrl+Shift+P' }),
      sep,
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { role: 'togglefullscreen' },
      ...(state.dev ? [sep, { role: 'reload' as const }, { role: 'toggleDevTools' as const }] : []),
    ],
  };

  const help: MenuItemTemplate = {
    label: '&Help',
    submenu: [
      item({ id: 'help.docs' }, 'Documentation'),
      item({ id: 'help.logs' }, 'Show Logs'),
      sep,
      item({ id: 'help.install-dissector' }, 'Install Wireshark Dissector'),
      item({ id: 'help.install-extcap' }, 'Install Wireshark Live Capture'),
    ],
  };

  const edit: MenuItemTemplate = {
    label: '&Edit',
    submenu: [{ role: 'undo' }, { role: 'redo' }, sep, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }],
  };

  return [...(mac ? [{ role: 'appMenu' as const }] : []), file, edit, board, view, ...(mac ? [{ role: 'windowMenu' as const }] : []), help];
}
