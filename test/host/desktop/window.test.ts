/**
 * The desktop window's security settings (docs/stack.md §4 checklist), its per-mode CSP, and the native
 * menus as data.
 */
import { describe, expect, it } from 'vitest';

import { appOrigin } from '../../../main/host/desktop/gate';
import { buildMenuTemplate, type MenuAction, type MenuItemTemplate, type MenuState } from '../../../main/host/desktop/menu';
import { defaultSettings } from '../../../main/host/desktop/settings';
import { desktopCsp, windowOptions } from '../../../main/host/desktop/windowOptions';
import { contentSecurityPolicy } from '../../../main/host/web/csp';

describe('window options', () => {
  const opts = windowOptions({ preload: '/app/out/preload/preload.cjs', dev: false, settings: defaultSettings(), prefersDark: false });

  it('meet the Electron security checklist', () => {
    expect(opts.webPreferences).toEqual({
      preload: '/app/out/preload/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: false,
    });
    // Nothing that loosens them is set anywhere in the options.
    const keys = JSON.stringify(opts);
    for (const loosening of ['enableBlinkFeatures', 'enableRemoteModule', 'additionalArguments', 'disableBlinkFeatures']) expect(keys).not.toContain(loosening);
  });

  it('take the saved size and start hidden until ready to show', () => {
    const s = { ...defaultSettings(), theme: 'system' as const, window: { width: 1700, height: 1100, maximized: false } };
    const o = windowOptions({ preload: 'p', dev: true, settings: s, prefersDark: true });
    expect(o).toMatchObject({ width: 1700, height: 1100, show: false, backgroundColor: '#1e1f22', webPreferences: { devTools: true } });
  });
});

describe('content security policy per mode', () => {
  it('from amp-workbench://: exactly the Electron policy of csp.ts, with no network', () => {
    const p = desktopCsp(appOrigin('/app/out/renderer'));
    expect(p).toBe(contentSecurityPolicy({ kind: 'electron' }));
    expect(p).toContain(`script-src 'self';`);
    expect(p).toContain(`connect-src 'none';`);
    expect(p).not.toContain('unsafe');
  });

  it('development: the dev server may inject its preamble and styles and open its HMR socket, nothing else', () => {
    const p = desktopCsp({ kind: 'dev', url: 'http://localhost:5173/' });
    const directives = Object.fromEntries(p.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    expect(directives['script-src']).toBe(`'self' 'unsafe-inline'`);
    expect(directives['style-src']).toBe(`'self' 'unsafe-inline'`);
    expect(directives['connect-src']).toBe(`'self' ws://localhost:5173`);
    expect(directives['object-src']).toBe(`'none'`);
    expect(p).not.toContain('unsafe-eval');
  });
});

describe('native menus', () => {
  const base: MenuState = {
    platform: 'linux',
    dev: false,
    connected: false,
    hasTrace: false,
    devices: [],
    recentBoards: [],
    recentCaptures: [],
    defaultBoard: 'sim-qemu-amp-pci',
    theme: 'system',
    view: 'connect',
  };

  function build(state: Partial<MenuState> = {}): { menu: MenuItemTemplate[]; actions: MenuAction[] } {
    const actions: MenuAction[] = [];
    return { menu: buildMenuTemplate({ ...base, ...state }, (a) => actions.push(a)), actions };
  }

  /** Submenu of a top-level menu or of one of its items, by label. */
  function sub(items: readonly MenuItemTemplate[], ...labels: string[]): readonly MenuItemTemplate[] {
    let cur = items;
    for (const l of labels) {
      const found = cur.find((i) => i.label === l);
      if (!found?.submenu) throw new Error(`no submenu "${l}" in ${cur.map((i) => i.label ?? i.role ?? i.type).join(', ')}`);
      cur = found.submenu;
    }
    return cur;
  }

  const shape = (items: readonly MenuItemTemplate[]) => items.map((i) => (i.type === 'separator' ? '---' : (i.label ?? `(${i.role})`) + (i.accelerator ? ` [${i.accelerator}]` : '')));

  it('has File, Edit, Board, View and Help with the agreed items', () => {
    const { menu } = build();
    expect(menu.map((m) => m.label)).toEqual(['&File', '&Edit', '&Board', '&View', '&Help']);
    expect(shape(sub(menu, '&File'))).toEqual(['Open Capture… [CmdOrCtrl+O]', 'Recent Captures', '---', 'Export… [CmdOrCtrl+E]', '---', '(quit)']);
    expect(shape(sub(menu, '&Board'))).toEqual(['Connect', 'Disconnect', '---', 'Reset Device…']);
    expect(shape(sub(menu, '&View'))).toEqual([
      'Connect [CmdOrCtrl+1]',
      'Devices [CmdOrCtrl+2]',
      'Queues [CmdOrCtrl+3]',
      'Trace [CmdOrCtrl+4]',
      'Timeline [CmdOrCtrl+5]',
      'Transactions [CmdOrCtrl+6]',
      'Statistics [CmdOrCtrl+7]',
      'Expert [CmdOrCtrl+8]',
      '---',
      'System Theme',
      'Light Theme',
      'Dark Theme',
      '---',
      'Command Palette… [CmdOrCtrl+Shift+P]',
      '---',
      '(resetZoom)',
      '(zoomIn)',
      '(zoomOut)',
      '(togglefullscreen)',
    ]);
    expect(shape(sub(menu, '&Help'))).toEqual(['Documentation', 'Show Logs', '---', 'Install Wireshark Dissector', 'Install Wireshark Live Capture']);
  });

  it('dispatches the action of the item clicked', () => {
    const { menu, actions } = build({ connected: true, hasTrace: true, devices: [{ devNum: 2, name: 'virtio-rng' }], recentBoards: ['hw-board'], theme: 'dark', view: 'trace' });
    const click = (items: readonly MenuItemTemplate[], label: string) => items.find((i) => i.label === label)!.click!();
    click(sub(menu, '&File'), 'Export…');
    click(sub(menu, '&Board', 'Switch To'), 'hw-board');
    click(sub(menu, '&Board', 'Switch To'), 'sim-qemu-amp-pci (default, simulated)');
    click(sub(menu, '&Board', 'Switch To'), 'Choose a Board…');
    click(sub(menu, '&Board'), 'Disconnect');
    click(sub(menu, '&Board', 'Reset Device…'), 'dev 2: virtio-rng…');
    click(sub(menu, '&View'), 'Light Theme');
    click(sub(menu, '&View'), 'Timeline');
    click(sub(menu, '&Help'), 'Install Wireshark Dissector');
    click(sub(menu, '&Help'), 'Install Wireshark Live Capture');
    expect(actions).toEqual([
      { id: 'file.export' },
      { id: 'board.connect', board: 'hw-board' },
      { id: 'board.connect', board: 'sim-qemu-amp-pci' },
      { id: 'board.connect', board: null },
      { id: 'board.disconnect' },
      { id: 'board.reset-device', devNum: 2 },
      { id: 'view.theme', theme: 'light' },
      { id: 'view.show', view: 'timeline' },
      { id: 'help.install-dissector' },
      { id: 'help.install-extcap' },
    ]);
    expect(sub(menu, '&View').filter((i) => i.checked).map((i) => i.label)).toEqual(['Trace', 'Dark Theme']);
  });

  it('enables what the session state allows', () => {
    const enabled = (items: readonly MenuItemTemplate[]) => Object.fromEntries(items.filter((i) => i.label).map((i) => [i.label, i.enabled ?? true]));
    const idle = build().menu;
    expect(enabled(sub(idle, '&File'))).toEqual({ 'Open Capture…': true, 'Recent Captures': true, 'Export…': false });
    expect(enabled(sub(idle, '&Board'))).toEqual({ Connect: true, Disconnect: false, 'Reset Device…': false });
    const live = build({ connected: true, hasTrace: true, devices: [{ devNum: 0, name: 'virtio-i2c' }] }).menu;
    expect(enabled(sub(live, '&File'))).toEqual({ 'Open Capture…': true, 'Recent Captures': true, 'Export…': true });
    expect(enabled(sub(live, '&Board'))).toEqual({ 'Switch To': true, Disconnect: true, 'Reset Device…': true });
  });

  it('lists recent captures newest first, with & shown literally, and can clear them', () => {
    const { menu, actions } = build({ recentCaptures: ['/captures/R&D run', '/captures/older'] });
    const recent = sub(menu, '&File', 'Recent Captures');
    expect(shape(recent)).toEqual(['/captures/R&&D run', '/captures/older', '---', 'Clear Recent']);
    recent[0]!.click!();
    recent[3]!.click!();
    expect(actions).toEqual([{ id: 'file.open-recent', path: '/captures/R&D run' }, { id: 'file.clear-recent' }]);
    expect(shape(sub(build().menu, '&File', 'Recent Captures'))).toEqual(['No Recent Captures']);
  });

  it('on macOS adds the app and window menus and leaves Quit to the app menu; dev builds get reload and devtools', () => {
    const mac = build({ platform: 'darwin', dev: true }).menu;
    expect(mac.map((m) => m.label ?? `(${m.role})`)).toEqual(['(appMenu)', '&File', '&Edit', '&Board', '&View', '(windowMenu)', '&Help']);
    expect(sub(mac, '&File').some((i) => i.role === 'quit')).toBe(false);
    expect(sub(mac, '&View').slice(-2).map((i) => i.role)).toEqual(['reload', 'toggleDevTools']);
  });
});
