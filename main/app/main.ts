/**
 * The desktop app's main process: one window, native menus, settings, and a relay between the
 * page and the engine. It stays thin (docs/stack.md §4 "Process layout"): the engine runs in a utility
 * process (engine.ts), every decision worth testing lives in main/host/desktop, and this file
 * only wires Electron to it.
 *
 * Security checklist (docs/stack.md §4): sandboxed, context-isolated window without Node
 * (windowOptions.ts), the page served from the privileged scheme amp-workbench://app rather than
 * file:// (appProtocol.ts), a CSP header per mode (desktopCsp: sent by that scheme's handler, or
 * added to the dev server's responses), navigation, new windows, webviews and permission requests
 * denied, every IPC message's sender checked against the app's own page, which alone gets the port
 * its Workbench requests travel on, and each request's payload validated (gate.ts). Fuses are set
 * at packaging (electron-builder.yml).
 *
 * Command line: --board [ID] connects a board at start (the default simulated board without ID).
 */
import { appendFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  MessageChannelMain,
  nativeTheme,
  protocol,
  session,
  shell,
  utilityProcess,
  type IpcMainEvent,
  type IpcMainInvokeEvent,
  type MenuItemConstructorOptions,
  type UtilityProcess,
  type WebContents,
} from 'electron';

import type { WorkbenchEvent } from '../../src/api/workbench';
import { DEFAULT_BOARD } from '../../src/boards/builtin';
import { CHANNELS, type DesktopCommand, type DesktopSettings, type SettingsUpdateResult } from '../../src/api/desktop';
import { afterDisconnect } from '../../src/api/switchSession';
import { logFailures, RpcClient, serveRpc, type RpcHandler, type RpcServer, type WorkbenchReply } from '../../src/api/rpc';
import { shutdownEngine } from '../host/desktop/engineHost';
import { hostChannel, type HostPort } from '../host/desktop/port';
import { APP_SCHEME, APP_SCHEME_PRIVILEGES, appProtocolHandler } from '../host/desktop/appProtocol';
import { appOrigin, appUrl, gateRequest, isAppSender, type AppOrigin } from '../host/desktop/gate';
import { buildMenuTemplate, type MenuAction, type MenuState } from '../host/desktop/menu';
import { pruneRecent, rememberEvent, rememberRequest } from '../host/desktop/recent';
import { applySettingsPatch, loadSettings, saveSettings, SETTINGS_FILE } from '../host/desktop/settings';
import { desktopCsp, PRODUCT_NAME, windowOptions } from '../host/desktop/windowOptions';
import { describeFailure, fileErrorText } from '../host/failure';
import { installExtcap } from '../host/extcap/install';
import { installDissector } from '../host/trace/wireshark';
import { electronPort, utilityHostPort } from './ports';
import { errorText } from '../../src/util/errorText';

/** Engine restarts allowed within RESTART_WINDOW_MS before the app gives up and says so. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

const devUrl = !app.isPackaged ? process.env['ELECTRON_RENDERER_URL'] : undefined;
const origin: AppOrigin = devUrl ? { kind: 'dev', url: devUrl } : appOrigin(join(__dirname, '../renderer'));

let win: BrowserWindow | null = null;
let settings: DesktopSettings;
let settingsFile = '';
let logFile = '';
let engine: { child: UtilityProcess; client: RpcClient } | null = null;
const restarts: number[] = [];
/** Each page's port to the engine (through main) and the RPC server on main's end of it. */
const pages = new Map<WebContents, { port: HostPort; server: RpcServer }>();
let menuState: Pick<MenuState, 'connected' | 'hasTrace' | 'devices'> = { connected: false, hasTrace: false, devices: [] };
let quitting = false;

function log(line: string): void {
  const text = `${new Date().toISOString()} ${line}\n`;
  process.stderr.write(text);
  if (logFile) appendFileSync(logFile, text);
}

function boardArg(argv: readonly string[]): string | null {
  const i = argv.findIndex((a) => a === '--board' || a.startsWith('--board='));
  if (i < 0) return null;
  const a = argv[i]!;
  if (a.startsWith('--board=')) return a.slice('--board='.length) || DEFAULT_BOARD;
  const next = argv[i + 1];
  return next !== undefined && !next.startsWith('-') ? next : DEFAULT_BOARD;
}

// ---- settings -----------------------------------------------------------------------------------

function updateSettings(next: DesktopSettings): void {
  settings = next;
  try {
    saveSettings(settingsFile, settings);
  } catch (e) {
    log(`settings: cannot write ${settingsFile}: ${fileErrorText(e, settingsFile, 'write')}; changes last until the app quits`);
  }
  nativeTheme.themeSource = settings.theme;
  refreshMenu();
}

// ---- engine -------------------------------------------------------------------------------------

function startEngine(): void {
  const child = utilityProcess.fork(join(__dirname, 'engine.js'), ['--captures', join(app.getPath('userData'), 'captures')], {
    serviceName: `${PRODUCT_NAME} engine`,
    stdio: 'inherit',
  });
  // Before the client's own exit listener, so open requests answer this reason (it has the exit code).
  child.on('exit', (code) => {
    if (engine?.child !== child) return;
    engine = null;
    if (quitting) return client.close('the app is quitting');
    const now = Date.now();
    restarts.push(now);
    while (restarts.length && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    const giveUp = restarts.length > MAX_RESTARTS;
    const reason = giveUp
      ? `the engine process stopped (exit code ${code}) ${restarts.length} times within a minute and was not restarted; see Help → Show Logs, then restart the app`
      : `the engine process stopped (exit code ${code}) and was restarted; connect the board again`;
    log(reason);
    client.close(reason);
    sendEvent({ event: 'session.closed', data: { reason, capture: null, lost: true } });
    menuState = { connected: false, hasTrace: false, devices: [] };
    refreshMenu();
    if (giveUp) return void dialog.showErrorBox(PRODUCT_NAME, reason);
    startEngine();
  });
  const client = new RpcClient(hostChannel(utilityHostPort(child), 'the engine process stopped'), { log: (line) => log(`engine: ${line}`) });
  engine = { child, client };
  client.onEvent(onEngineEvent);
}

/** Every request to the engine, the page's and the menus': what to remember and refresh follows the reply. */
const request: RpcHandler = logFailures(async (method, params, signal) => {
  const name = String(method);
  if (!engine) return { ok: false, error: { code: 'failed', method: name, message: 'the engine is not running; restart the app (Help → Show Logs says why it stopped)' } };
  const reply = await engine.client.request(name, params, signal);
  const remembered = rememberRequest(settings, name, params, reply);
  if (remembered) updateSettings(remembered);
  if (reply.ok && (name === 'session.connect' || name === 'session.disconnect' || name === 'capture.open')) void syncMenuState();
  return reply;
}, (line) => log(`engine: ${line}`));

/** A request on a page's port: validated here first (gate.ts), then relayed. */
const pageRequest: RpcHandler = async (method, params, signal) => {
  const gated = gateRequest(method, params);
  return gated.ok ? request(gated.value.method, gated.value.params, signal) : gated;
};

function onEngineEvent(e: WorkbenchEvent): void {
  sendEvent(e);
  const remembered = rememberEvent(settings, e);
  if (remembered) updateSettings(remembered);
  if (e.event === 'session.closed' || e.event === 'trace.reset') void syncMenuState();
}

/** Asks the engine what the menus must reflect (connected, devices, a trace to export). */
async function syncMenuState(): Promise<void> {
  const [state, info] = await Promise.all([request('session.state', {}), request('trace.info', {})]);
  const s = state.ok ? (state.result as { connected: boolean; devices: { devNum: number; deviceName: string }[] }) : { connected: false, devices: [] };
  menuState = { connected: s.connected, hasTrace: info.ok, devices: s.devices.map((d) => ({ devNum: d.devNum, name: d.deviceName })) };
  refreshMenu();
}

// ---- the page -----------------------------------------------------------------------------------

/** Gives a page (checked by the caller) its port; a page that asks again (reloaded) gets a new one. */
function handPagePort(page: WebContents): void {
  const before = pages.get(page);
  before?.port.close();
  const { port1, port2 } = new MessageChannelMain();
  const port = electronPort(port1);
  pages.set(page, { port, server: serveRpc(hostChannel(port, 'the page went away'), pageRequest, { log: (line) => log(`page: ${line}`) }) });
  if (!before)
    page.once('destroyed', () => {
      pages.get(page)?.port.close();
      pages.delete(page);
    });
  page.postMessage(CHANNELS.port, null, [port2]);
}

function sendEvent(e: WorkbenchEvent): void {
  for (const { server } of pages.values()) server.emit(e);
}

function sendCommand(c: DesktopCommand): void {
  if (!win || win.isDestroyed()) return;
  win.webContents.send(CHANNELS.command, c);
  win.focus();
}

/** The sender check every IPC entry starts with; refusals are logged. */
function fromApp(event: IpcMainEvent | IpcMainInvokeEvent, channel: string): boolean {
  const url = event.senderFrame?.url;
  if (isAppSender(url, origin)) return true;
  log(`refused ${channel} from ${url ?? 'a frame that is gone'}: not the workbench page ${appUrl(origin)}`);
  return false;
}

function registerIpc(): void {
  ipcMain.on(CHANNELS.requestPort, (event) => {
    if (fromApp(event, CHANNELS.requestPort)) handPagePort(event.sender);
  });
  ipcMain.handle(CHANNELS.settingsGet, (event) => (fromApp(event, CHANNELS.settingsGet) ? settings : null));
  ipcMain.handle(CHANNELS.settingsUpdate, (event, patch: unknown): SettingsUpdateResult => {
    if (!fromApp(event, CHANNELS.settingsUpdate)) return { ok: false, error: 'refused: not the workbench page' };
    const r = applySettingsPatch(settings, patch);
    if (r.ok) updateSettings(r.value);
    return r;
  });
}

function createWindow(): void {
  const w = new BrowserWindow(windowOptions({ preload: join(__dirname, '../preload/preload.cjs'), dev: !app.isPackaged, settings, prefersDark: nativeTheme.shouldUseDarkColors }));
  win = w;
  if (settings.window.maximized) w.maximize();
  w.once('ready-to-show', () => w.show());
  w.on('close', () => {
    const { width, height } = w.getNormalBounds();
    updateSettings({ ...settings, window: { width: Math.min(10_000, Math.max(400, width)), height: Math.min(10_000, Math.max(300, height)), maximized: w.isMaximized() } });
  });
  w.on('closed', () => (win = null));
  void w.loadURL(appUrl(origin));
}

// ---- menus --------------------------------------------------------------------------------------

function refreshMenu(): void {
  if (!app.isReady()) return;
  const template = buildMenuTemplate(
    { platform: process.platform, dev: !app.isPackaged, ...menuState, recentBoards: settings.recentBoards, recentCaptures: settings.recentCaptures, defaultBoard: DEFAULT_BOARD, theme: settings.theme, view: settings.view },
    (a) => void onMenu(a).catch((e: unknown) => log(`menu ${a.id} failed: ${(e as Error).message}`)),
  );
  Menu.setApplicationMenu(Menu.buildFromTemplate(template as MenuItemConstructorOptions[]));
}

async function tell(type: 'info' | 'error', message: string, detail?: string): Promise<void> {
  const opts = { type, title: PRODUCT_NAME, message, ...(detail ? { detail } : {}) };
  await (win ? dialog.showMessageBox(win, opts) : dialog.showMessageBox(opts));
}

async function showReply(what: string, reply: WorkbenchReply): Promise<void> {
  if (!reply.ok) await tell('error', `${what} failed`, reply.error.message);
}

/** The engine holds one session at a time: a connect or an open from the menu ends the current one first. */
function switchTo(next: () => Promise<WorkbenchReply>): Promise<WorkbenchReply> {
  return afterDisconnect(() => request('session.disconnect', {}), menuState.connected, next);
}

async function openCapture(path: string): Promise<void> {
  let reply = await switchTo(() => request('capture.open', { path }));
  // A file picked inside a journal folder means the folder.
  if (!reply.ok && reply.error.code === 'not-found' && statSync(path, { throwIfNoEntry: false })?.isFile()) {
    const folder = await request('capture.open', { path: dirname(path) });
    if (folder.ok) reply = folder;
  }
  await showReply(`Opening ${path}`, reply);
  if (reply.ok) sendCommand({ kind: 'show-view', view: 'trace' });
}

async function onMenu(a: MenuAction): Promise<void> {
  switch (a.id) {
    case 'file.open-capture': {
      const picked = await dialog.showOpenDialog({
        title: 'Open Capture',
        // macOS offers files and folders in one dialog; elsewhere pick a file (inside a journal folder for the folder).
        properties: process.platform === 'darwin' ? ['openFile', 'openDirectory'] : ['openFile'],
        filters: [{ name: 'Captures', extensions: ['pcapng', 'jsonl', 'json', '*'] }],
      });
      if (!picked.canceled && picked.filePaths[0]) await openCapture(picked.filePaths[0]);
      return;
    }
    case 'file.open-recent':
      return openCapture(a.path);
    case 'file.clear-recent':
      return updateSettings({ ...settings, recentCaptures: [] });
    case 'file.export':
      return sendCommand({ kind: 'export' });
    case 'board.connect':
      if (a.board === null) return sendCommand({ kind: 'show-view', view: 'connect' });
      sendCommand({ kind: 'show-view', view: 'devices' });
      return showReply(`Connecting ${a.board}`, await switchTo(() => request('session.connect', { board: a.board })));
    case 'board.disconnect':
      return showReply('Disconnecting', await request('session.disconnect', {}));
    case 'board.reset-device': {
      const opts = { type: 'question' as const, buttons: ['Reset', 'Cancel'], defaultId: 1, cancelId: 1, title: PRODUCT_NAME, message: `Reset device ${a.devNum}?`, detail: 'The driver writes status 0 and brings the device up again.' };
      const answer = await (win ? dialog.showMessageBox(win, opts) : dialog.showMessageBox(opts));
      if (answer.response === 0) await showReply(`Resetting device ${a.devNum}`, await request('device.reset', { devNum: a.devNum }));
      return;
    }
    case 'view.theme':
      updateSettings({ ...settings, theme: a.theme });
      return sendCommand({ kind: 'theme', theme: a.theme });
    case 'view.show':
      updateSettings({ ...settings, view: a.view });
      return sendCommand({ kind: 'show-view', view: a.view });
    case 'view.command-palette':
      return sendCommand({ kind: 'command-palette' });
    case 'help.docs': {
      const readme = app.isPackaged ? join(process.resourcesPath, 'README.md') : join(app.getAppPath(), 'README.md');
      const failed = await shell.openPath(readme);
      if (failed) await tell('error', 'Cannot open the documentation', `${readme}: ${failed}`);
      return;
    }
    case 'help.logs': {
      const failed = await shell.openPath(dirname(logFile));
      if (failed) await tell('error', 'Cannot open the logs folder', `${dirname(logFile)}: ${failed}`);
      return;
    }
    case 'help.install-dissector': {
      try {
        const r = installDissector();
        if (!r.printed) await tell('info', 'Wireshark dissector installed', r.message);
      } catch (e) {
        await tell('error', 'Installing the Wireshark dissector failed', `${describeFailure(e).text}. Check that the Wireshark personal plugins folder is writable.`);
      }
      return;
    }
    case 'help.install-extcap': {
      try {
        await tell('info', 'Wireshark live capture installed', installExtcap().message);
      } catch (e) {
        await tell('error', 'Installing the Wireshark live capture failed', `${describeFailure(e).text}. Check that the Wireshark personal extcap and plugins folders are writable.`);
      }
      return;
    }
  }
}

// ---- start --------------------------------------------------------------------------------------

function harden(): void {
  const csp = desktopCsp(origin);
  if (origin.kind === 'app') {
    protocol.handle(APP_SCHEME, appProtocolHandler(origin.rendererDir, csp));
  } else {
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
    });
  }
  session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) => {
    log(`denied a permission request: ${permission}`);
    callback(false);
  });
  session.defaultSession.setPermissionCheckHandler(() => false);
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (e) => {
      log(`denied navigation to ${e.url}`);
      e.preventDefault();
    });
    contents.on('will-redirect', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      log(`denied a new window for ${url}`);
      return { action: 'deny' };
    });
  });
}

async function start(): Promise<void> {
  app.setAppLogsPath();
  mkdirSync(app.getPath('logs'), { recursive: true });
  logFile = join(app.getPath('logs'), 'main.log');
  settingsFile = join(app.getPath('userData'), SETTINGS_FILE);
  const loaded = loadSettings(settingsFile);
  settings = { ...loaded.settings, recentCaptures: pruneRecent(loaded.settings.recentCaptures, existsSync) };
  for (const p of loaded.problems) log(`settings: ${p}`);
  if (loaded.problems.length) updateSettings(settings);
  nativeTheme.themeSource = settings.theme;

  harden();
  registerIpc();
  startEngine();
  refreshMenu();
  createWindow();
  if (loaded.problems.length) void tell('error', 'Some settings could not be read and were reset', loaded.problems.join('\n'));

  const board = boardArg(process.argv);
  if (board) {
    await showReply(`Connecting ${board}`, await request('session.connect', { board }));
  }
}

// Privileges can only be granted before the app is ready.
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
app.enableSandbox();
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', (e) => {
    if (quitting || !engine) return;
    // The engine ends its session first, so the capture journal is complete on disk.
    e.preventDefault();
    quitting = true;
    const { client, child } = engine;
    const forced = setTimeout(() => child.kill(), 5000);
    void shutdownEngine(client).then(() => {
      clearTimeout(forced);
      app.quit();
    });
  });
  void app.whenReady().then(start).catch((e: unknown) => {
    // The stack is for the log; the user reads what happened and where to look.
    log(`start failed: ${(e as Error).stack ?? String(e)}`);
    dialog.showErrorBox(PRODUCT_NAME, `The workbench could not start: ${errorText(e)}. The log (Help → Show Logs) has the details.`);
    app.exit(1);
  });
}
