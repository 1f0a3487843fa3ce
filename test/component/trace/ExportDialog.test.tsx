import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import type { TraceInfo, WorkbenchResponse } from '../../../src/api/workbench';
import { durationText, ExportDialog, withExtension } from '../../../renderer/src/views/export/ExportDialog';
import { OpenCaptureDialog } from '../../../renderer/src/views/export/OpenCaptureDialog';
import { fakeApi, type FakeApi } from '../fakeApi';
import { traceInfo } from '../fixtures';

/** A web-mode client: uploads and downloads through the page's server. */
function withFiles(api: FakeApi, uploaded: string[] = []) {
  return Object.assign(api, {
    files: {
      upload: async (f: File) => (uploaded.push(f.name), { ok: true as const, value: `/srv/uploads/1-${f.name}` }),
      downloadHref: (p: string) => `/download?path=${encodeURIComponent(p)}`,
    },
  });
}

afterEach(cleanup);

const INFO = traceInfo();

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
    expect(screen.getByText(/An absolute path on this computer/)).toBeTruthy();

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

describe('ExportDialog fixes and scopes', () => {
  it('asks before replacing an existing file, and replaces it only when told', async () => {
    const api = fakeApi({
      'trace.info': () => ({ ok: true, result: INFO }),
      'trace.export': (p) =>
        p.overwrite
          ? { ok: true, result: { out: p.out, written: 10, scanned: 10, bytes: 100, dropped: 0 } }
          : { ok: false, error: { code: 'exists', method: 'trace.export', message: `${p.out} already exists; choose another name or replace it` } },
    });
    render(<ExportDialog api={api} open onClose={() => {}} />);
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: '/tmp/x.pcapng' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    await screen.findByRole('alert');
    expect(screen.getByRole('alert').textContent).toContain('/tmp/x.pcapng already exists. Replace it?');
    fireEvent.click(screen.getByRole('button', { name: 'Replace' }));
    await screen.findByRole('status');
    expect(api.callsOf('trace.export')).toEqual([
      { format: 'pcapng', out: '/tmp/x.pcapng' },
      { format: 'pcapng', out: '/tmp/x.pcapng', overwrite: true },
    ]);
  });

  it('forgets the last result as soon as the form changes or is wrong', async () => {
    const api = fakeApi({
      'trace.info': () => ({ ok: true, result: INFO }),
      'trace.export': (p) => ({ ok: true, result: { out: p.out, written: 10, scanned: 10, bytes: 100, dropped: 0 } }),
    });
    render(<ExportDialog api={api} open onClose={() => {}} />);
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: '/tmp/x.pcapng' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect((await screen.findByRole('status')).textContent).toMatch(/^Wrote 10 records/);
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: 'relative' } });
    expect(screen.queryByRole('status')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect(screen.getByRole('alert').textContent).toContain('must be absolute');
    expect(screen.queryByText(/^Wrote/)).toBeNull();
  });

  it('swaps any extension for the format’s, the README’s .pftrace for Perfetto', async () => {
    expect(withExtension('/tmp/run.bin', 'csv')).toBe('/tmp/run.csv');
    expect(withExtension('/tmp/run', 'perfetto')).toBe('/tmp/run.pftrace');
    expect(withExtension('/tmp/a.b/run', 'jsonl')).toBe('/tmp/a.b/run.jsonl');
    expect(withExtension('C:\\x\\run.pcapng', 'csv')).toBe('C:\\x\\run.csv');
    expect(withExtension('', 'csv')).toBe('');
    const api = fakeApi({ 'trace.info': () => ({ ok: true, result: INFO }) });
    render(<ExportDialog api={api} open onClose={() => {}} />);
    const out = screen.getByLabelText('Output file') as HTMLInputElement;
    fireEvent.change(out, { target: { value: '/tmp/mine.pftrace' } });
    fireEvent.change(screen.getByLabelText('Format'), { target: { value: 'csv' } });
    expect(out.value).toBe('/tmp/mine.csv');
    fireEvent.change(screen.getByLabelText('Format'), { target: { value: 'perfetto' } });
    expect(out.value).toBe('/tmp/mine.pftrace');
  });

  it('exports the scope a view asked for: its filter, range and chosen records', async () => {
    const api = fakeApi({
      'trace.info': () => ({ ok: true, result: INFO }),
      'trace.export': (p) => ({ ok: true, result: { out: p.out, written: 3, scanned: 1000, bytes: 100, dropped: 0 } }),
    });
    const scope = { label: 'the 3 selected records', seqs: [5, 9, 12], filter: 'dev == 1', fromNs: 1_500_000_000, toNs: 2_250_000 + 2e9 };
    render(<ExportDialog api={api} open onClose={() => {}} scope={scope} />);
    expect(screen.getByTestId('export-scope').textContent).toContain('Exporting the 3 selected records (3 records)');
    expect((screen.getByLabelText('Filter') as HTMLInputElement).value).toBe('dev == 1');
    expect((screen.getByLabelText('From') as HTMLInputElement).value).toBe('1.5s');
    expect((screen.getByLabelText('To') as HTMLInputElement).value).toBe('2.00225s');
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: '/tmp/sel.pcapng' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    await screen.findByRole('status');
    expect(api.callsOf('trace.export')).toEqual([{ format: 'pcapng', out: '/tmp/sel.pcapng', filter: 'dev == 1', fromNs: 1.5e9, toNs: 2_002_250_000, seqs: [5, 9, 12] }]);
    fireEvent.click(screen.getByRole('button', { name: 'export all records instead' }));
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(api.callsOf('trace.export')).toHaveLength(2));
    expect(api.callsOf('trace.export')[1]).not.toHaveProperty('seqs');
    expect(durationText(250_000)).toBe('250us');
    expect(durationText(7)).toBe('7ns');
  });

  it('offers the written file for download in web mode, and says why a viewer cannot export', async () => {
    const api = withFiles(
      fakeApi({
        'trace.info': () => ({ ok: true, result: INFO }),
        'trace.export': (p) => ({ ok: true, result: { out: p.out, written: 3, scanned: 3, bytes: 100, dropped: 0 } }),
      }),
    );
    render(<ExportDialog api={api} open onClose={() => {}} />);
    expect(screen.getByText(/then offered for download to this computer/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Output file'), { target: { value: '/srv/out/run.csv' } });
    fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    const link = await screen.findByRole('link', { name: 'Download run.csv' });
    expect(link.getAttribute('href')).toBe('/download?path=%2Fsrv%2Fout%2Frun.csv');
    expect(link.getAttribute('download')).toBe('run.csv');
    cleanup();

    render(<ExportDialog api={api} open onClose={() => {}} blocked="This window only views the session: take control in the header first." />);
    expect(screen.getByRole('alert').textContent).toBe('This window only views the session: take control in the header first.');
    expect((screen.getByRole('button', { name: 'Export' }) as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('OpenCaptureDialog', () => {
  it('opens a capture by path or by an uploaded drop in web mode, and shows the engine’s refusal', async () => {
    let answer: WorkbenchResponse<'capture.open'> = { ok: false, error: { code: 'busy', method: 'capture.open', message: 'a board is connected; disconnect first (its capture stays on disk)' } };
    const uploaded: string[] = [];
    const api = withFiles(fakeApi({ 'capture.open': () => answer }), uploaded);
    let opened: TraceInfo | null = null;
    let closed = false;
    render(<OpenCaptureDialog api={api} open onClose={() => (closed = true)} onOpened={(i) => (opened = i)} />);
    const input = screen.getByLabelText("Capture folder or file on the workbench's machine");

    const file = new File(['x'], 'run.pcapng');
    fireEvent.drop(screen.getByRole('dialog'), { dataTransfer: { files: [file] } });
    expect((await screen.findByRole('alert')).textContent).toContain('disconnect first');
    expect(uploaded).toEqual(['run.pcapng']);

    fireEvent.change(input, { target: { value: '/data/run.pcapng' } });
    fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    expect((await screen.findByRole('alert')).textContent).toContain('disconnect first');

    answer = { ok: true, result: INFO };
    fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    await waitFor(() => expect(closed).toBe(true));
    expect(opened).toEqual(INFO);
    expect(api.callsOf('capture.open')).toEqual([{ path: '/srv/uploads/1-run.pcapng' }, { path: '/data/run.pcapng' }, { path: '/data/run.pcapng' }]);
  });
});
