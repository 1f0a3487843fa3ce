import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { TraceView } from '../../../renderer/src/views/trace/TraceView';
import { WINDOW_ROWS } from '../../../renderer/src/views/trace/TraceTable';
import { fakeTrace, makeRow, PROBLEM_EVERY, SEQ_OFFSET, stubLayout } from './traceFake';

let unstub: () => void;
beforeAll(() => (unstub = stubLayout()));
afterAll(() => unstub());
afterEach(cleanup);

const grid = (): HTMLElement => screen.getByRole('grid', { name: 'trace' });
/** View indices (0-based) of the rows in the DOM. */
const shown = (): number[] => [...grid().querySelectorAll<HTMLElement>('[role=row][data-index]')].map((r) => Number(r.dataset.index));
const rowEl = (index: number): HTMLElement => grid().querySelector<HTMLElement>(`[data-index="${index}"]`)!;
const scroller = (): HTMLElement => screen.getByTestId('trace-scroll');
const table = (): HTMLElement => screen.getByLabelText(/^trace table/);

/** Renders the view, waits until it shows the trace's last row (it follows the tail), then scrolls to the top. */
async function renderAtTop(api: ReturnType<typeof fakeTrace>): Promise<void> {
  render(<TraceView api={api} />);
  await waitFor(() => expect(rowEl(api.total - 1)).toBeTruthy());
  scrollTo(0);
  await waitFor(() => expect(rowEl(0)).toBeTruthy());
}

function scrollTo(top: number): void {
  act(() => {
    scroller().scrollTop = top;
    fireEvent.scroll(scroller());
  });
}

describe('TraceView table', () => {
  it('follows the tail as the trace grows, stops when scrolled up, and jumps back to the end', async () => {
    const api = fakeTrace(1000);
    render(<TraceView api={api} />);
    await waitFor(() => expect(rowEl(999)?.textContent).toContain('EVENT_USED'));
    expect(screen.getByRole('button', { name: /Following/ }).getAttribute('aria-pressed')).toBe('true');

    act(() => api.grow(500));
    await waitFor(() => expect(rowEl(1499)?.textContent).toContain('EVENT_USED'));
    expect(shown()).not.toContain(900);
    expect(screen.getByText('1,500 records')).toBeTruthy();

    scrollTo(0);
    await waitFor(() => expect(rowEl(0)?.textContent).toContain('GET_CONFIG'));
    expect(screen.getByRole('button', { name: /Follow/ }).getAttribute('aria-pressed')).toBe('false');
    act(() => api.grow(500));
    await waitFor(() => expect(screen.getByText('2,000 records')).toBeTruthy());
    expect(shown()).toContain(0);
    expect(shown()).not.toContain(1999);

    fireEvent.click(screen.getByRole('button', { name: 'Jump to end' }));
    await waitFor(() => expect(rowEl(1999)?.textContent).toContain('EVENT_USED'));
    expect(screen.getByRole('button', { name: /Following/ }).getAttribute('aria-pressed')).toBe('true');
  });

  it('shows every column of a row and marks malformed rows', async () => {
    const api = fakeTrace(200);
    await renderAtTop(api);
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['No.', 'time', 'direction', 'dev', 'message', 'token', 'size', 'summary', 'latency']);
    const cells = within(rowEl(1)).getAllByRole('gridcell').map((c) => c.textContent);
    expect(cells).toEqual([String(1 + SEQ_OFFSET), '0.000001', 'dev → drv', '1', 'GET_CONFIG', '0', '16', 'generation 3', '1.50 µs']);
    expect(rowEl(5).className).toContain('problem');
    expect(within(rowEl(5)).getByLabelText('problems: truncated')).toBeTruthy();
    expect(rowEl(4).className).not.toContain('problem');
  });

  it('applies a filter, and shows a refused one with a caret at its column, keeping the old view', async () => {
    const api = fakeTrace(1000);
    render(<TraceView api={api} />);
    await screen.findByText('1,000 records');
    const input = screen.getByLabelText('filter');

    fireEvent.change(input, { target: { value: 'dev == 1 && msg = GET_CONFIG' } });
    fireEvent.submit(input);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('error at column 17');
    expect(screen.getByTestId('filter-caret').textContent).toBe(`dev == 1 && msg = GET_CONFIG\n${' '.repeat(16)}^`);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect((input as HTMLInputElement).selectionStart).toBe(16);
    expect(screen.getByText('1,000 records')).toBeTruthy();

    fireEvent.change(input, { target: { value: 'problem' } });
    fireEvent.submit(input);
    const matching = Math.ceil((1000 - 5) / PROBLEM_EVERY);
    await screen.findByText(`${matching} matching records`);
    expect(screen.queryByRole('alert')).toBeNull();
    await waitFor(() => expect(shown().length).toBe(matching));
    for (const i of shown()) expect(rowEl(i).className).toContain('problem');
    // A filtered view's rows are numbered in the view, and say their place in the trace.
    expect(rowEl(0).textContent).toContain('0.000005');
  });

  it('moves the selection with the arrow keys and steps between problems with ] and [', async () => {
    const api = fakeTrace(400);
    await renderAtTop(api);
    fireEvent.click(rowEl(2));
    expect(rowEl(2).getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(table(), { key: 'ArrowDown' });
    expect(rowEl(3).getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(table(), { key: 'ArrowUp' });
    fireEvent.keyDown(table(), { key: 'ArrowUp' });
    expect(rowEl(1).getAttribute('aria-selected')).toBe('true');

    fireEvent.keyDown(table(), { key: ']' });
    await waitFor(() => expect(rowEl(5)?.getAttribute('aria-selected')).toBe('true'));
    fireEvent.keyDown(table(), { key: ']' });
    await waitFor(() => expect(rowEl(5 + PROBLEM_EVERY)?.getAttribute('aria-selected')).toBe('true'));
    fireEvent.keyDown(table(), { key: '[' });
    await waitFor(() => expect(rowEl(5)?.getAttribute('aria-selected')).toBe('true'));
    fireEvent.keyDown(table(), { key: '[' });
    await screen.findByText('No previous row with problems.');
  });

  it('scrolls a 1,000,000-row trace end to end through a window the browser can hold', async () => {
    const api = fakeTrace(1_000_000, {}, makeRow, true);
    render(<TraceView api={api} />);
    await waitFor(() => expect(rowEl(999_999)?.textContent).toContain('EVENT_USED'));
    const spacer = scroller().firstElementChild as HTMLElement;
    expect(parseFloat(spacer.style.height)).toBe(WINDOW_ROWS * 22);

    fireEvent.keyDown(table(), { key: 'Home' });
    await waitFor(() => expect(rowEl(0)?.textContent).toContain('GET_CONFIG'));
    expect(rowEl(0).getAttribute('aria-selected')).toBe('true');

    // Scrolling near the window's end slides it on: the row at the top stays the same row.
    const top = (WINDOW_ROWS - 150) * 22;
    scrollTo(top);
    await waitFor(() => expect(shown()).toContain(WINDOW_ROWS - 150));
    expect(scroller().scrollTop).toBe(top - (WINDOW_ROWS / 2) * 22);

    fireEvent.keyDown(table(), { key: 'End' });
    await waitFor(() => expect(rowEl(999_999)?.getAttribute('aria-selected')).toBe('true'));
    expect(rowEl(999_999).textContent).toContain('EVENT_USED');
    // Asked for what it shows, never for the whole trace.
    const asked = (api.callsOf('trace.rows') as { count: number; filter?: string }[]).filter((p) => p.filter === undefined);
    expect(Math.max(...asked.map((p) => p.count))).toBeLessThanOrEqual(256);
    expect(asked.length).toBeLessThan(40);
  });
});

describe('TraceView detail pane', () => {
  it('shows the field tree and hex dump, lighting the bytes of the field under the pointer and the field of the byte', async () => {
    const api = fakeTrace(100);
    await renderAtTop(api);
    fireEvent.click(rowEl(4));
    fireEvent.keyDown(table(), { key: 'Enter' });
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    await within(pane).findByText('#14');
    const tree = within(pane).getAllByRole('treeitem');
    expect(tree.map((t) => t.querySelector('.trace-field-name')!.textContent)).toEqual(['msg_type', 'msg_id', 'dev_num', 'token', 'msg_size', 'offset', 'length']);

    const lit = (): number[] => [...pane.querySelectorAll<HTMLElement>('.trace-hex-byte.lit')].map((b) => Number(b.dataset.offset));
    fireEvent.mouseEnter(tree[3]!); // token: bytes 4..5
    expect(lit()).toEqual([4, 5]);
    fireEvent.mouseLeave(tree[3]!);
    expect(lit()).toEqual([]);

    fireEvent.mouseEnter(pane.querySelector('[data-offset="9"]')!); // inside "offset" (8..11)
    expect(lit()).toEqual([8, 9, 10, 11]);
    expect(tree[5]!.className).toBe('lit');
  });

  it('jumps from a response to its request and back', async () => {
    const api = fakeTrace(100);
    await renderAtTop(api);
    fireEvent.doubleClick(rowEl(9)); // GET_CONFIG response to position 8
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    await within(pane).findByText(`#${9 + SEQ_OFFSET}`);

    fireEvent.click(within(pane).getByRole('button', { name: `← request #${8 + SEQ_OFFSET}` }));
    await within(pane).findByText(`#${8 + SEQ_OFFSET}`);
    await waitFor(() => expect(rowEl(8).getAttribute('aria-selected')).toBe('true'));

    fireEvent.click(within(pane).getByRole('button', { name: 'response →' }));
    await within(pane).findByText(`#${9 + SEQ_OFFSET}`);
    await waitFor(() => expect(rowEl(9).getAttribute('aria-selected')).toBe('true'));
  });

  it('lists a malformed message’s problems with their reasons', async () => {
    const api = fakeTrace(100);
    await renderAtTop(api);
    fireEvent.doubleClick(rowEl(5));
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    const problems = await within(pane).findByRole('list', { name: 'problems' });
    expect(problems.textContent).toBe('truncated at byte 14: expected 24 bytes for GET_CONFIG, saw 16');
    expect(pane.className).toContain('problem');
    expect(pane.querySelector('[data-offset="14"]')!.className).toContain('bad');
  });
});

describe('TraceView bookmarks', () => {
  it('adds a bookmark, lists it and jumps to it', async () => {
    const marks = new Map<number, string>();
    const rowAt = (i: number) => (marks.has(i) ? { ...makeRow(i), kind: 'marker' as const, name: 'BOOKMARK', dir: null, dev: null, summary: marks.get(i)!, problems: [] } : makeRow(i));
    const api = fakeTrace(
      300,
      {
        'trace.bookmark': ({ text }) => {
          marks.set(api.total, text);
          api.grow(1);
          return { ok: true, result: { seq: api.total - 1 + SEQ_OFFSET } };
        },
      },
      rowAt,
    );
    render(<TraceView api={api} />);
    const box = screen.getByRole('region', { name: 'bookmarks' });
    fireEvent.change(within(box).getByLabelText('bookmark text'), { target: { value: 'link glitch here' } });
    fireEvent.submit(within(box).getByLabelText('bookmark text'));
    const entry = await within(box).findByRole('button', { name: /link glitch here/ });
    await waitFor(() => expect(rowEl(300)?.className).toContain('bookmark'));

    scrollTo(0);
    await waitFor(() => expect(shown()).toContain(0));
    fireEvent.click(entry);
    await waitFor(() => expect(rowEl(300)?.getAttribute('aria-selected')).toBe('true'));
    expect(within(rowEl(300)).getByLabelText('bookmark')).toBeTruthy();
  });
});
