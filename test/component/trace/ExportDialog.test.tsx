import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import type { TraceInfo, WorkbenchResponse } from '../../../src/api/workbench';
import { ExportDialog } from '../../../renderer/src/views/export/ExportDialog';
import { OpenCaptureDialog } from '../../../renderer/src/views/export/OpenCaptureDialog';
import { fakeApi } from '../fakeApi';

afterEach(cleanup);

const INFO: TraceInfo = {
  source: 'live',
  path: '/var/captures/2026-01-01-sim',
  count: 1000,
  board: 'sim',
  revision: 'r4',
  queueFormat: null,
  link: 'sim',
  startMonoNs: '0',
  startWallNs: '0',
  firstNs: 0,
  lastNs: 5e9,
  notes: [],
  residentBytes: 0,
  residentLimit: -1,
  dropped: 0,
};

describe('ExportDialog', () => {
  it('exports with format, filter and range, showing progress events and then the result', async () => {
    let finish: (r: WorkbenchResponse<'trace.export'>) => void = () => {};
    const api = fakeApi({
      'trace.info': () => ({ ok: true, result: INFO }),
      'trace.export': () => new Promise((r) => (finish = r)),
    });
    render(<ExportDialog api={api} open onClose={() => {}} />);
    const out = screen.getByLabelText('Output file') as HTMLInputElement;
    await waitFor(() => expect(out.value).toBe('/var/captures/2026-01-01-sim-export.pcapng'));
    expect(screen.getByText(/path on the machine running the workbench server/)).toBeTruthy();

    fireEvent.change(screen.getByLabelText('Format'), { target: { value: 'jsonl' } });
    expect(out.value).toBe('/var/captures/2026-01-01-sim-export.jsonl');
    fireEvent.change(screen.getByLabelText('Filter'), { target: { value: 'dev == 1' } });
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '1.5s' } });
    fireEvent.change(screen.getByLabelText('To'), { target: { value: '2s' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));

    await waitFor(() => expect(api.callsOf('trace.export')).toHaveLength(1));
    expect(api.callsOf('trace.export')[0]).toEqual({ format: 'jsonl', out: '/var/captures/2026-01-01-sim-export.jsonl', filter: 'dev == 1', fromNs: 1.5e9, toNs: 2e9 });
    act(() => api.emit({ event: 'export.progress', data: { out: '/elsewhere.jsonl', done: 1, total: 9 } }));
    act(() => api.emit({ event: 'export.progress', data: { out: '/var/captures/2026-01-01-sim-export.jsonl', done: 500, total: 1000 } }));
    expect(screen.getByText('500 of 1,000 records')).toBeTruthy();
    expect((screen.getByLabelText('export progress') as HTMLProgressElement).value).toBe(500);

    await act(async () => finish({ ok: true, result: { out: '/var/captures/2026-01-01-sim-export.jsonl', written: 420, scanned: 1000, bytes: 3 << 20, dropped: 0 } }));
    expect(screen.getByRole('status').textContent).toBe('Wrote 420 records (3.0 MiB) of 1,000 to /var/captures/2026-01-01-sim-export.jsonl');
  });

  it('cancels a running export on Cancel, stays open and says no file was written', async () => {
    let finish: (r: WorkbenchResponse<'trace.export'>) => void = () => {};
    let closed = 0;
    const api = fakeApi({
      'trace.info': () => ({ ok: true, result: INFO }),
      'trace.export': () => new Promise((r) => (finish = r)),
      'trace.cancelExport': () => {
        finish({ ok: false, error: { code: 'cancelled', method: 'trace.export', message: 'export to /tmp/x.pcapng was cancelled after 200 of 1,000 records; no file was written' } });
        return { ok: true, result: { out: '/tmp/x.pcapng' } };
      },
    });
    render(<ExportDialog api={api} open onClose={() => closed++} />);
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: '/tmp/x.pcapng' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(api.callsOf('trace.export')).toHaveLength(1));
    fireEvent.click(screen.getByRole('button', { name: 'Cancel export' }));
    expect(await screen.findByText(/^Cancelled: export to \/tmp\/x.pcapng was cancelled after 200 of 1,000 records; no file was written$/)).toBeTruthy();
    expect(api.callsOf('trace.cancelExport')).toHaveLength(1);
    expect(closed).toBe(0);
    expect(screen.queryByRole('alert')).toBeNull();
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(closed).toBe(1);
  });

  it('says what is wrong with the form before asking, and shows the engine’s error', async () => {
    const api = fakeApi({
      'trace.info': () => ({ ok: true, result: INFO }),
      'trace.export': () => ({ ok: false, error: { code: 'bad-filter', method: 'trace.export', message: 'filter: error at column 3: unknown field "dve"' } }),
    });
    render(<ExportDialog api={api} open onClose={() => {}} />);
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: 'relative.pcapng' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect(screen.getByRole('alert').textContent).toContain('must be absolute');
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: '/tmp/x.pcapng' } });
    fireEvent.change(screen.getByLabelText('From'), { target: { value: 'soon' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect(screen.getByRole('alert').textContent).toContain('saw "soon"');
    expect(api.callsOf('trace.export')).toHaveLength(0);

    fireEvent.change(screen.getByLabelText('From'), { target: { value: '' } });
    fireEvent.change(screen.getByLabelText('Filter'), { target: { value: 'dve == 1' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect((await screen.findByRole('alert')).textContent).toContain('unknown field "dve"');
  });
});

describe('OpenCaptureDialog', () => {
  it('opens a capture by path, shows the engine’s refusal, and in web mode refuses drops with the reason', async () => {
    let answer: WorkbenchResponse<'capture.open'> = { ok: false, error: { code: 'busy', method: 'capture.open', message: 'a board is connected; disconnect first (its capture stays on disk)' } };
    const api = fakeApi({ 'capture.open': () => answer });
    let opened: TraceInfo | null = null;
    let closed = false;
    render(<OpenCaptureDialog api={api} open onClose={() => (closed = true)} onOpened={(i) => (opened = i)} />);
    const input = screen.getByLabelText('Capture folder or file');

    const file = new File(['x'], 'run.pcapng');
    fireEvent.drop(screen.getByRole('dialog'), { dataTransfer: { files: [file] } });
    expect(screen.getByRole('alert').textContent).toContain('Web mode opens captures on the server machine only');

    fireEvent.change(input, { target: { value: '/data/run.pcapng' } });
    fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    expect((await screen.findByRole('alert')).textContent).toContain('disconnect first');

    answer = { ok: true, result: INFO };
    fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    await waitFor(() => expect(closed).toBe(true));
    expect(opened).toEqual(INFO);
    expect(api.callsOf('capture.open')).toEqual([{ path: '/data/run.pcapng' }, { path: '/data/run.pcapng' }]);
  });
});
