/**
 * The Trace view's Wireshark-like tools: filter completion and live checking, recent and saved
 * filters, a refused filter that says what stays on screen, empty results, the row context menu
 * (filters, follow, copy), go to record, marks, time formats, hideable columns, one-click hiding
 * of record kinds, requests from other views, the detail's named values and ASCII column, and an
 * opened capture file (nothing to follow or bookmark).
 */
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import type { TraceInfo, TraceRow } from '../../../src/api/workbench';
import type { ViewNav } from '../../../renderer/src/ui/nav';
import { FILTER_FIELDS } from '../../../src/trace/filter';
import { filterFor, TraceView } from '../../../renderer/src/views/trace/TraceView';
import { gridTemplate } from '../../../renderer/src/views/trace/TraceTable';
import { formatOffset, formatTimeNs, formatWall, formatWallDate } from '../../../renderer/src/views/trace/traceFormat';
import { fakeTrace, FAKE_START_WALL_NS, makeDetail, makeRow, SEQ_OFFSET, stubLayout } from './traceFake';
import { traceInfo } from '../fixtures';

let unstub: () => void;
beforeAll(() => (unstub = stubLayout()));
afterAll(() => unstub());
beforeEach(() => localStorage.clear());
afterEach(cleanup);

const grid = (): HTMLElement => screen.getByRole('grid', { name: 'trace' });
const rowEl = (index: number): HTMLElement => grid().querySelector<HTMLElement>(`[data-index="${index}"]`)!;
const shown = (): number[] => [...grid().querySelectorAll<HTMLElement>('[role=row][data-index]')].map((r) => Number(r.dataset.index));
const scroller = (): HTMLElement => screen.getByTestId('trace-scroll');
const table = (): HTMLElement => screen.getByLabelText(/^trace table/);
const filterInput = (): HTMLInputElement => screen.getByLabelText('filter');
const cells = (index: number): string[] => within(rowEl(index)).getAllByRole('gridcell').map((c) => c.textContent ?? '');

/** trace.info as the fake trace's rows need it: its wall start, path and counts. */
const info = (source: TraceInfo['source']): TraceInfo =>
  traceInfo({ source, path: '/captures/x', count: 0, startWallNs: FAKE_START_WALL_NS.toString(), firstNs: null, lastNs: null, residentLimit: 0 });

async function renderAtTop(api: ReturnType<typeof fakeTrace>, nav?: ViewNav): Promise<void> {
  render(<TraceView api={api} {...(nav ? { nav } : {})} />);
  await waitFor(() => expect(rowEl(api.total - 1)).toBeTruthy());
  act(() => {
    scroller().scrollTop = 0;
    fireEvent.scroll(scroller());
  });
  await waitFor(() => expect(rowEl(0)).toBeTruthy());
}

function type(text: string): void {
  const input = filterInput();
  fireEvent.change(input, { target: { value: text, selectionStart: text.length } });
}

describe('filter bar', () => {
  it('colours the text valid or invalid while typing and says why', () => {
    render(<TraceView api={fakeTrace(10)} />);
    type('dev == 1');
    expect(filterInput().className).toBe('valid');
    type('dev == 1 && lantency > 5us');
    expect(filterInput().className).toBe('invalid');
    expect(filterInput().getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('filter-hint').textContent).toBe(`column 13: unknown field 'lantency': did you mean latency? fields are ${FILTER_FIELDS.join(', ')}`);
  });

  it('completes message names; ↓ and Enter take a suggestion, the next Enter applies', async () => {
    const api = fakeTrace(100);
    render(<TraceView api={api} />);
    await screen.findByText('100 records');
    type('msg == GET_CON');
    const list = screen.getByRole('listbox', { name: 'suggestions' });
    expect(within(list).getAllByRole('option').map((o) => o.querySelector('.trace-suggestion-text')!.textContent)).toEqual(['GET_CONFIG', 'GET_CONFIG_GEN']);
    fireEvent.keyDown(filterInput(), { key: 'ArrowDown' });
    expect(within(list).getAllByRole('option')[0]!.getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(filterInput(), { key: 'Enter' });
    expect(filterInput().value).toBe('msg == GET_CONFIG ');
    fireEvent.submit(filterInput());
    await screen.findByText('50 matching records');
  });

  it('offers the session’s devices as dev values', async () => {
    const api = fakeTrace(10, {
      'session.state': () => ({
        ok: true,
        // Only what the view reads: the devices.
        result: { connected: true, board: 'sim', link: 'sim', capture: null, notices: [], findings: [], devices: [{ devNum: 3, deviceName: 'entropy source', deviceType: 'rng' }] } as never,
      }),
    });
    render(<TraceView api={api} />);
    await waitFor(() => expect(api.callsOf('session.state').length).toBe(1));
    await act(async () => {});
    type('dev == ');
    expect(screen.getByRole('option', { name: /^3 entropy source \(rng\)/ })).toBeTruthy();
  });

  it('says a refused filter left the previous view on screen', async () => {
    const api = fakeTrace(100);
    render(<TraceView api={api} />);
    type('dev == 1');
    fireEvent.submit(filterInput());
    await screen.findByText('100 matching records');
    type('dev == 1 && msg = X');
    fireEvent.submit(filterInput());
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Not applied: the table still shows the records matching dev == 1.');
    expect(screen.getByText('100 matching records')).toBeTruthy();
  });

  it('keeps applied filters as recent ones and saved ones, one click from applying', async () => {
    const api = fakeTrace(100);
    render(<TraceView api={api} />);
    type('seq > 100');
    fireEvent.submit(filterInput());
    await screen.findByText('9 matching records');
    fireEvent.click(screen.getByRole('button', { name: 'Save filter' }));
    fireEvent.click(screen.getByRole('button', { name: 'Clear' }));
    await screen.findByText('100 records');

    fireEvent.click(screen.getByRole('button', { name: 'saved and recent filters' }));
    const menu = screen.getByRole('menu', { name: 'filters' });
    expect(within(menu).getAllByRole('menuitem').map((m) => m.textContent)).toEqual(['seq > 100', 'seq > 100']);
    fireEvent.click(within(menu).getAllByRole('menuitem')[0]!);
    await screen.findByText('9 matching records');
    expect(filterInput().value).toBe('seq > 100');
  });

  it('says when no record matches', async () => {
    const api = fakeTrace(100);
    render(<TraceView api={api} />);
    type('seq > 5000');
    fireEvent.submit(filterInput());
    expect((await screen.findByText('No record matches seq > 5000.')).getAttribute('role')).toBe('status');
  });
});

describe('row context menu', () => {
  it('builds the filters that follow a device, a token and a message name', () => {
    const request = makeRow(4);
    expect(filterFor('msg', request)).toBe('msg == GET_CONFIG');
    expect(filterFor('dev', request)).toBe('dev == 1');
    expect(filterFor('token', request)).toBe('dev == 1 && token == 1');
    expect(filterFor('token', { ...request, dev: null })).toBe('token == 1 && !dev');
    expect(filterFor('token', { ...request, kind: 'doorbell' })).toBeNull();
  });

  it('follows a token from a right click, and copies a record as hex and as text', async () => {
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    const api = fakeTrace(100);
    await renderAtTop(api);

    fireEvent.contextMenu(rowEl(4), { clientX: 10, clientY: 10 });
    let menu = screen.getByRole('menu', { name: `record #${4 + SEQ_OFFSET}` });
    fireEvent.click(within(menu).getByText('Copy as hex'));
    await screen.findByText(`Copied the 16 bytes of record #${4 + SEQ_OFFSET} as hex.`);
    expect(writeText).toHaveBeenLastCalledWith((makeDetail(makeRow(4)).data.match(/../g) ?? []).join(' '));

    fireEvent.contextMenu(rowEl(4), { clientX: 10, clientY: 10 });
    menu = screen.getByRole('menu');
    fireEvent.click(within(menu).getByText('Copy as text'));
    await waitFor(() => expect(writeText).toHaveBeenCalledTimes(2));
    expect(writeText).toHaveBeenLastCalledWith(['14', '0.000004', 'drv → dev', '1', 'GET_CONFIG', '1', '16', 'offset 0 length 8', ''].join('\t'));

    // Prepare: the filter goes into the bar for editing, the view stays.
    fireEvent.contextMenu(rowEl(4), { clientX: 10, clientY: 10 });
    fireEvent.click(within(screen.getByRole('menu')).getByText('Prepare as filter: msg == GET_CONFIG'));
    expect(filterInput().value).toBe('msg == GET_CONFIG');
    expect(document.activeElement).toBe(filterInput());
    expect(screen.getByText('100 records')).toBeTruthy();

    // From the keyboard: the Menu key opens it on the selected row, Enter runs the highlighted item.
    fireEvent.click(rowEl(4));
    fireEvent.keyDown(table(), { key: 'ContextMenu' });
    menu = screen.getByRole('menu');
    const items = within(menu).getAllByRole('menuitem').map((m) => m.textContent);
    const follow = items.findIndex((t) => t?.startsWith('Follow token 1 of device 1'));
    for (let i = 0; i < follow; i++) fireEvent.keyDown(menu, { key: 'ArrowDown' });
    fireEvent.keyDown(menu, { key: 'Enter' });
    // Positions 4..7 carry token 1 (4 records per token): request, response and the two events with token 0 drop out.
    await screen.findByText('2 matching records');
    expect(filterInput().value).toBe('dev == 1 && token == 1');
    expect(screen.queryByRole('menu')).toBeNull();
  });
});

describe('go to, marks and time', () => {
  it('goes to record N with Ctrl+G', async () => {
    const api = fakeTrace(200);
    await renderAtTop(api);
    fireEvent.keyDown(table(), { key: 'g', ctrlKey: true });
    const input = screen.getByLabelText('record number');
    fireEvent.change(input, { target: { value: '150' } });
    fireEvent.submit(input);
    await waitFor(() => expect(rowEl(150 - SEQ_OFFSET)?.getAttribute('aria-selected')).toBe('true'));
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    await within(pane).findByText('#150');
  });

  it('marks records with M, steps between them with } and {, and exports them', async () => {
    const api = fakeTrace(200);
    const nav = { jump: vi.fn(), follow: vi.fn(), exportScope: vi.fn() };
    await renderAtTop(api, nav);
    for (const i of [3, 7]) {
      fireEvent.click(rowEl(i));
      fireEvent.keyDown(table(), { key: 'm' });
    }
    expect(rowEl(3).className).toContain('marked');
    expect(rowEl(7).className).toContain('marked');
    expect(rowEl(5).className).not.toContain('marked');
    expect(screen.getByText('2 marked')).toBeTruthy();

    fireEvent.click(rowEl(0));
    fireEvent.keyDown(table(), { key: '}' });
    await waitFor(() => expect(rowEl(3).getAttribute('aria-selected')).toBe('true'));
    fireEvent.keyDown(table(), { key: '}' });
    await waitFor(() => expect(rowEl(7).getAttribute('aria-selected')).toBe('true'));
    fireEvent.keyDown(table(), { key: '{' });
    await waitFor(() => expect(rowEl(3).getAttribute('aria-selected')).toBe('true'));

    fireEvent.click(screen.getByRole('button', { name: 'Export marked…' }));
    expect(nav.exportScope).toHaveBeenCalledWith({ label: '2 marked records', seqs: [3 + SEQ_OFFSET, 7 + SEQ_OFFSET] });
    fireEvent.keyDown(table(), { key: 'm' });
    expect(rowEl(3).className).not.toContain('marked');
  });

  it('shows time in ns, as Δ, from a reference and as wall-clock time', async () => {
    const api = fakeTrace(100, { 'trace.info': () => ({ ok: true, result: info('live') }) });
    await renderAtTop(api);
    const time = (i: number): string => rowEl(i).querySelector('.c-time')!.textContent!;
    const format = screen.getByLabelText('time format');
    fireEvent.change(format, { target: { value: 'ns' } });
    expect(time(1)).toBe('0.000001000');
    fireEvent.change(format, { target: { value: 'delta' } });
    expect(time(2)).toBe('+0.000001');
    fireEvent.change(format, { target: { value: 'captured' } });
    expect(screen.getByRole('columnheader', { name: 'Δ record' })).toBeTruthy();
    expect(time(2)).toBe('+0.000001');
    fireEvent.change(format, { target: { value: 'wall' } });
    expect(screen.getByRole('columnheader', { name: 'time (UTC)' })).toBeTruthy();
    expect(time(1)).toBe('04:40:00.123457');

    fireEvent.click(rowEl(3));
    fireEvent.keyDown(table(), { key: 't' });
    expect(time(3)).toBe('*REF*');
    expect(time(1)).toBe('-0.000002');
    expect(time(5)).toBe('+0.000002');
    expect((format as HTMLSelectElement).value).toBe('reference');
  });
});

describe('columns and hiding', () => {
  it('hides a column and sizes the grid from the widths', async () => {
    expect(gridTemplate(['seq', 'summary', 'latency'], { seq: 80 })).toBe('80px minmax(120px, 1fr) 72px');
    const api = fakeTrace(20);
    await renderAtTop(api);
    fireEvent.click(screen.getByRole('button', { name: 'Columns' }));
    fireEvent.click(screen.getByRole('checkbox', { name: 'summary' }));
    fireEvent.click(screen.getByRole('checkbox', { name: 'queue' }));
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['No.', 'time', 'direction', 'dev', 'message', 'token', 'queue', 'size', 'latency']);
    expect(cells(1)).toEqual([String(1 + SEQ_OFFSET), '0.000001', 'dev → drv', '1', 'GET_CONFIG', '0', '0', '16', '1.50 µs']);
  });

  it('hides markers with one click and shows markers without a size or link colour', async () => {
    const rowAt = (i: number): TraceRow => (i % 10 === 9 ? { ...makeRow(i), kind: 'marker', name: 'NOTE', dir: null, dev: null, size: 42, summary: 'a note of 42 characters, give or take', problems: [] } : makeRow(i));
    const api = fakeTrace(100, {}, rowAt);
    await renderAtTop(api);
    expect(rowEl(9).className).toContain('marker');
    expect(rowEl(9).querySelector('.c-size')!.textContent).toBe('');
    fireEvent.click(screen.getByRole('checkbox', { name: 'markers' }));
    await screen.findByText('90 matching records');
    expect(api.callsOf('trace.rows').some((p) => (p as { filter?: string }).filter === 'kind != marker')).toBe(true);
    await waitFor(() => expect(shown().length).toBeGreaterThan(0));
    for (const i of shown()) expect(rowEl(i).className).not.toContain('marker');
  });
});

describe('requests from other views', () => {
  it('applies a filter and shows a record, once per nonce', async () => {
    const api = fakeTrace(200);
    const { rerender } = render(<TraceView api={api} request={{ nonce: 1, filter: 'dev == 1 && seq > 100' }} />);
    await screen.findByText('109 matching records');
    expect(filterInput().value).toBe('dev == 1 && seq > 100');
    rerender(<TraceView api={api} request={{ nonce: 2, seq: 120 }} />);
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    await within(pane).findByText('#120');
    await waitFor(() => expect(rowEl(120 - 101)?.getAttribute('aria-selected')).toBe('true'));
  });
});

describe('detail and capture files', () => {
  it('shows named values, wall time, revision, bus queue, an ASCII column, and copies the bytes', async () => {
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
    const api = fakeTrace(100, {
      'trace.record': ({ seq }) => {
        const d = makeDetail(makeRow(seq - SEQ_OFFSET));
        d.fields[1] = { ...d.fields[1]!, meaning: 'GET_CONFIG' };
        // "AB\x00C" then the rest.
        d.data = '41420043' + d.data.slice(8);
        return { ok: true, result: d };
      },
    });
    await renderAtTop(api);
    fireEvent.doubleClick(rowEl(4));
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    await within(pane).findByText(`#${4 + SEQ_OFFSET}`);
    expect(within(pane).getAllByRole('treeitem')[1]!.textContent).toContain('GET_CONFIG');
    expect(pane.textContent).toContain('2025-11-21 04:40:00.123460789 UTC');
    expect(pane.textContent).toContain('revisionr4');
    expect(pane.textContent).toContain('bus queue0');
    expect(within(pane).getByLabelText('ASCII of bytes 0–15').textContent!.slice(0, 4)).toBe('AB.C');
    fireEvent.mouseEnter(pane.querySelector('[data-ascii-offset="1"]')!);
    expect([...pane.querySelectorAll<HTMLElement>('.trace-hex-byte.lit')].map((b) => Number(b.dataset.offset))).toEqual([1]);
    fireEvent.click(within(pane).getByRole('button', { name: 'Copy as hex' }));
    await within(pane).findByText('Copied 16 bytes as hex.');
    expect(writeText).toHaveBeenCalledWith(expect.stringMatching(/^41 42 00 43 /));
  });

  it('an opened capture file starts at its first record, offers no Follow and takes no bookmarks', async () => {
    const api = fakeTrace(300, { 'trace.info': () => ({ ok: true, result: info('file') }) });
    render(<TraceView api={api} />);
    await waitFor(() => expect(rowEl(0)).toBeTruthy());
    expect(shown()).not.toContain(299);
    expect(screen.queryByRole('button', { name: /Follow/ })).toBeNull();
    const box = screen.getByRole('region', { name: 'bookmarks' });
    expect((within(box).getByRole('button', { name: '★ Add' }) as HTMLButtonElement).disabled).toBe(true);
    expect(box.textContent).toContain('Bookmarks are added to a live session.');
  });
});

describe('time formatting', () => {
  it('keeps every nanosecond and signs offsets', () => {
    expect(formatTimeNs(12_345_678_901)).toBe('12.345678901');
    expect(formatTimeNs(-1_500)).toBe('-0.000001500');
    expect(formatOffset(-1_500_000_000)).toBe('-1.500000');
    expect(formatWall(FAKE_START_WALL_NS, 0)).toBe('04:40:00.123456');
    expect(formatWallDate(FAKE_START_WALL_NS)).toBe('2025-11-21 04:40:00.123456789 UTC');
  });
});

describe('coming back to the view', () => {
  it('keeps the filter, hidden kinds, marks, columns and time format across a tab switch', async () => {
    const api = fakeTrace(100);
    await renderAtTop(api);
    type('seq > 100');
    fireEvent.submit(filterInput());
    await screen.findByText('9 matching records');
    await waitFor(() => expect(rowEl(0)).toBeTruthy());
    fireEvent.click(rowEl(0));
    fireEvent.keyDown(table(), { key: 'm' });
    fireEvent.change(screen.getByLabelText('time format'), { target: { value: 'ns' } });
    fireEvent.click(screen.getByRole('checkbox', { name: 'markers' }));
    cleanup();

    render(<TraceView api={api} />);
    await screen.findByText('9 matching records');
    expect(filterInput().value).toBe('seq > 100');
    expect(screen.getByText('1 marked')).toBeTruthy();
    expect((screen.getByLabelText('time format') as HTMLSelectElement).value).toBe('ns');
    expect((screen.getByRole('checkbox', { name: 'markers' }) as HTMLInputElement).checked).toBe(true);
    // Another engine starts afresh.
    cleanup();
    render(<TraceView api={fakeTrace(100)} />);
    await screen.findByText('100 records');
    expect(filterInput().value).toBe('');
  });
});

describe('colour rules', () => {
  it('tints the rows the first matching rule names, in order, and keeps the rules', async () => {
    const api = fakeTrace(40);
    await renderAtTop(api);
    fireEvent.click(screen.getByRole('button', { name: 'Colours' }));
    const box = screen.getByRole('group', { name: 'colour rules' });
    const addRule = (filter: string, colour: string): void => {
      fireEvent.change(within(box).getByLabelText("new rule's colour"), { target: { value: colour } });
      fireEvent.change(within(box).getByLabelText("new rule's filter"), { target: { value: filter } });
      fireEvent.submit(within(box).getByLabelText("new rule's filter"));
    };
    addRule('dev == 1 && msg = X', 'red');
    expect(within(box).getByRole('alert').textContent).toMatch(/^column 17: /);
    addRule('msg == EVENT_USED', 'green');
    addRule('dev == 1', 'blue');
    await waitFor(() => expect(rowEl(3).className).toContain('colour-green'));
    expect(rowEl(2).className).toContain('colour-blue');
    expect(api.callsOf('trace.rows').some((p) => JSON.stringify((p as { colourRules?: string[] }).colourRules) === '["msg == EVENT_USED","dev == 1"]')).toBe(true);

    // Moving the second rule up: every row is dev 1, so blue wins everywhere.
    fireEvent.click(within(box).getByRole('button', { name: 'move dev == 1 up' }));
    await waitFor(() => expect(rowEl(3).className).toContain('colour-blue'));
    fireEvent.click(within(box).getByRole('button', { name: 'remove dev == 1' }));
    await waitFor(() => expect(rowEl(2).className).not.toContain('colour-'));
    expect(rowEl(3).className).toContain('colour-green');
    expect(JSON.parse(localStorage.getItem('amp-workbench.trace.colourRules')!)).toEqual([{ filter: 'msg == EVENT_USED', colour: 'green' }]);
  });
});

describe('sorting', () => {
  it('sorts by a column header, reverses on a second click, and goes back to trace order on a third', async () => {
    const api = fakeTrace(40);
    // Following the tail, as a live view does: a sort starts at its first row.
    render(<TraceView api={api} />);
    await waitFor(() => expect(rowEl(39)).toBeTruthy());
    const header = (): HTMLElement => screen.getByRole('columnheader', { name: /^latency/ });
    fireEvent.click(within(header()).getByRole('button'));
    await waitFor(() => expect(cells(0)[0]).toBe(String(1 + SEQ_OFFSET)));
    expect(header().getAttribute('aria-sort')).toBe('ascending');
    expect(screen.getByText(/Sorted by latency ▲: a snapshot/)).toBeTruthy();
    // Responses (every fourth position from 1, all 1.50 µs) first in trace order, then the rows without latency.
    expect(cells(1)[0]).toBe(String(5 + SEQ_OFFSET));
    expect(cells(10)[0]).toBe(String(0 + SEQ_OFFSET));

    fireEvent.click(within(screen.getByRole('columnheader', { name: /^No\./ })).getByRole('button'));
    fireEvent.click(within(screen.getByRole('columnheader', { name: /^No\./ })).getByRole('button'));
    await waitFor(() => expect(cells(0)[0]).toBe(String(39 + SEQ_OFFSET)));
    expect(screen.getByRole('columnheader', { name: /^No\./ }).getAttribute('aria-sort')).toBe('descending');
    // Growth is not followed while sorted; "Sort again" takes it in.
    act(() => api.grow(5));
    await act(async () => {});
    expect(cells(0)[0]).toBe(String(39 + SEQ_OFFSET));
    fireEvent.click(screen.getByRole('button', { name: 'Sort again' }));
    await waitFor(() => expect(cells(0)[0]).toBe(String(44 + SEQ_OFFSET)));

    // Going to a record puts the view back in trace order.
    fireEvent.keyDown(table(), { key: 'g', ctrlKey: true });
    fireEvent.change(screen.getByLabelText('record number'), { target: { value: '20' } });
    fireEvent.submit(screen.getByLabelText('record number'));
    await screen.findByText('Back in trace order to show record #20.');
    await waitFor(() => expect(rowEl(10)?.getAttribute('aria-selected')).toBe('true'));
    expect(screen.queryByText(/Sorted by/)).toBeNull();
    // Many round trips through the fake engine: room for a loaded machine.
  }, 20_000);
});

describe('problems the endpoint noted', () => {
  it('are listed without a byte and light none', async () => {
    const api = fakeTrace(20, {
      'trace.record': ({ seq }) => {
        const row = { ...makeRow(seq - SEQ_OFFSET), problems: ['unmatched-response' as const] };
        return { ok: true, result: { ...makeDetail(row), problems: [{ offset: null, code: 'unmatched-response', reason: 'response answers no outstanding request' }] } };
      },
    });
    await renderAtTop(api);
    fireEvent.doubleClick(rowEl(1));
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    const list = await within(pane).findByRole('list', { name: 'problems' });
    expect(list.textContent).toBe('unmatched-response: response answers no outstanding request (noted by the bus endpoint)');
    expect(pane.querySelectorAll('.bad')).toHaveLength(0);
  });
});
