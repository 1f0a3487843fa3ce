import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';

import { ExpertView, groupFilter } from '../../../renderer/src/views/expert/ExpertView';
import { compileFilter } from '../../../src/trace/filter';
import { expertReport, navLog } from '../analysisFixtures';
import { fakeApi, ok } from '../fakeApi';

afterEach(cleanup);

describe('ExpertView', () => {
  it('shows the totals and one group per severity and rule, errors first, with its docs page and count', async () => {
    const api = fakeApi({ 'trace.expert': () => ok(expertReport) });
    render(<ExpertView api={api} nav={navLog()} />);
    await screen.findByText('3 errors');
    expect(screen.getByText('1 warning')).toBeTruthy();
    expect(screen.getByText('in 1,234 records checked')).toBeTruthy();
    const groups = document.querySelectorAll<HTMLElement>('details.analysis-group');
    expect([...groups].map((g) => [g.dataset.severity, g.dataset.rule])).toEqual([
      ['error', 'request-answered'],
      ['warning', 'records-dropped'],
    ]);
    expect(groups[0]!.querySelector('summary')!.textContent).toContain('docs/protocol.md §11, §17.2');
    expect(within(groups[0]!).getByText('the first 2 of 3 listed; Show in Trace lists every one')).toBeTruthy();
  });

  it('jumps to the offending record and shows a group in the Trace view with a filter that compiles', async () => {
    const api = fakeApi({ 'trace.expert': () => ok(expertReport) });
    const nav = navLog();
    render(<ExpertView api={api} nav={nav} />);
    fireEvent.click(await screen.findByRole('button', { name: '77' }));
    expect(nav.jumps).toEqual([77]);
    const dropped = document.querySelector<HTMLElement>('details[data-rule="records-dropped"]')!;
    fireEvent.click(within(dropped).getByRole('button', { name: 'Show in Trace' }));
    fireEvent.click(within(document.querySelector<HTMLElement>('details[data-rule="request-answered"]')!).getByRole('button', { name: 'Show in Trace' }));
    expect(nav.follows).toEqual(['msg == DROPPED', 'finding == request-answered && severity == error']);
    for (const f of nav.follows) expect(compileFilter(f).ok, f).toBe(true);
    expect(compileFilter(groupFilter({ rule: 'session-error', severity: 'error' })).ok).toBe(true);
  });

  it('says when every rule holds, and shows an engine error in words, refreshing as the trace grows', async () => {
    let answer: 'clean' | 'fail' = 'fail';
    const api = fakeApi({
      'trace.expert': () => (answer === 'clean' ? ok({ checked: 10, errors: 0, warnings: 0, infos: 0, groups: [] }) : { ok: false, error: { code: 'no-session' as const, message: 'no trace yet: connect a board or open a saved capture' } }),
    });
    render(<ExpertView api={api} nav={navLog()} />);
    expect((await screen.findByRole('alert')).textContent).toBe('no trace yet: connect a board or open a saved capture');
    answer = 'clean';
    api.emit({ event: 'trace.reset', data: {} } as never);
    await screen.findByText('No findings: every rule holds on the 10 records checked.');
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
