import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clampPerPage,
  hasMorePages,
  MAX_PER_PAGE,
  maxPages,
  parseCountHeader,
} from '../../src/lib/doorflow/pagination.ts';
import { parseBody } from '../../src/lib/doorflow/transport.ts';

describe('DoorFlow pagination arithmetic', () => {
  it('clamps per_page to 1..100 and defaults to 100', () => {
    expect(clampPerPage(undefined)).toBe(MAX_PER_PAGE);
    expect(clampPerPage(500)).toBe(100);
    expect(clampPerPage(0)).toBe(1);
    expect(clampPerPage(25.7)).toBe(25);
    expect(clampPerPage(Number.NaN)).toBe(100);
  });

  it('parses Total / Per-Page headers and rejects junk', () => {
    expect(parseCountHeader('250')).toBe(250);
    expect(parseCountHeader(' 7 ')).toBe(7);
    expect(parseCountHeader(['30', '40'])).toBe(30);
    expect(parseCountHeader(undefined)).toBeUndefined();
    expect(parseCountHeader('-1')).toBeUndefined();
    expect(parseCountHeader('12abc')).toBeUndefined();
  });

  it('250 people at 100 a page: pages 1 and 2 continue, page 3 ends', () => {
    const facts = { requestedPerPage: 100, perPageHeader: 100, total: 250 };
    expect(hasMorePages({ ...facts, page: 1, received: 100 })).toBe(true);
    expect(hasMorePages({ ...facts, page: 2, received: 100 })).toBe(true);
    expect(hasMorePages({ ...facts, page: 3, received: 50 })).toBe(false);
  });

  it('follows the server page size when it serves fewer than asked', () => {
    expect(
      hasMorePages({ page: 1, requestedPerPage: 100, perPageHeader: 50, total: 120, received: 50 }),
    ).toBe(true);
    expect(
      hasMorePages({ page: 3, requestedPerPage: 100, perPageHeader: 50, total: 120, received: 20 }),
    ).toBe(false);
  });

  it('without Total: continues while pages are full; an empty page always ends', () => {
    const base = { requestedPerPage: 100, perPageHeader: undefined, total: undefined };
    expect(hasMorePages({ ...base, page: 4, received: 100 })).toBe(true);
    expect(hasMorePages({ ...base, page: 5, received: 99 })).toBe(false);
    expect(hasMorePages({ ...base, page: 1, received: 0, total: 1000 })).toBe(false);
  });

  it('walking pages visits exactly ceil(total / perPage) pages (at least one)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 1, max: 100 }), (total, perPage) => {
        let pages = 0;
        for (let page = 1; ; page++) {
          pages++;
          const received = Math.max(0, Math.min(perPage, total - (page - 1) * perPage));
          const facts = { page, requestedPerPage: perPage, perPageHeader: perPage, total, received };
          if (!hasMorePages(facts) || page >= maxPages(total, perPage)) break;
        }
        expect(pages).toBe(Math.max(1, Math.ceil(total / perPage)));
      }),
    );
  });

  it('parses JSON bodies and keeps text/plain bodies (202 Accepted)', () => {
    expect(parseBody('[{"id":1}]', 'application/json; charset=utf-8')).toEqual([{ id: 1 }]);
    expect(parseBody('{"a":1}', undefined)).toEqual({ a: 1 });
    expect(parseBody('Accepted', 'text/plain')).toBe('Accepted');
    expect(parseBody('', 'application/json')).toBeUndefined();
    expect(parseBody('{broken', 'application/json')).toBe('{broken');
  });
});
