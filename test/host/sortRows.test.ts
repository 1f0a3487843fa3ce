/** The limit of a sorted view says how many rows it holds and what to do. */
import { describe, expect, it } from 'vitest';

import { MAX_SORTED_ROWS, tooManyToSort } from '../../main/host/service/sortRows';

describe('tooManyToSort', () => {
  it('names the limit, the view size and the way out', () => {
    expect(MAX_SORTED_ROWS).toBe(2_000_000);
    expect(tooManyToSort(20_000_000)).toBe('sorting holds at most 2,000,000 rows and this view has 20,000,000: narrow it with a filter first');
  });
});
