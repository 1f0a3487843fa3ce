/**
 * The Trace view's detail of a buffer record (a chain's bytes, record.ts BUFFER_DATA): which way,
 * its head, the full length and a hex + ASCII dump of the bytes kept.
 */
import { cleanup, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { RecordDetail } from '../../../renderer/src/views/trace/RecordDetail';
import { fakeApi } from '../fakeApi';
import { makeDetail, makeRow } from './traceFake';

afterEach(cleanup);

describe('RecordDetail of a buffer record', () => {
  it('says which way and how long, and dumps the bytes kept as hex and ASCII', async () => {
    const row = { ...makeRow(0), kind: 'buffer' as const, name: 'BUFFER', size: 8 + 20 };
    const bytes = '48656c6c6f2c20776f726c64210a0001020304';
    const api = fakeApi({ 'trace.record': () => ({ ok: true, result: { ...makeDetail(row), fields: [], buffer: { toDevice: false, head: 3, length: 300, bytes } } }) });
    render(<RecordDetail api={api} seq={row.seq} onJump={() => undefined} onClose={() => undefined} />);
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    await within(pane).findByLabelText('buffer bytes');
    expect(pane.querySelector('.trace-detail-buffer p')!.textContent).toBe('used, head 3: 300 bytes (first 19 kept)');
    expect(within(pane).getByLabelText('buffer bytes').textContent).toBe(
      ['0000  48 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21 0a 00 01  Hello, world!...', '0010  02 03 04' + ' '.repeat(47 - 8) + '  ...'].join('\n'),
    );
  });
});

describe('RecordDetail of a message from an imported log', () => {
  it('says once which fields the log did not print', async () => {
    const row = makeRow(0);
    const unheld = 'the log this capture was imported from holds no token (recorded as 0): not checked: R4-token-echo';
    const api = fakeApi({ 'trace.record': () => ({ ok: true, result: { ...makeDetail(row), unheld } }) });
    render(<RecordDetail api={api} seq={row.seq} onJump={() => undefined} onClose={() => undefined} />);
    const pane = await screen.findByRole('complementary', { name: 'record detail' });
    expect((await within(pane).findAllByText(unheld)).length).toBe(1);
    expect(within(pane).getByText('not in the log').tagName).toBe('DT');
  });
});
