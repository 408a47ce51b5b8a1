/**
 * Pagination arithmetic for DoorFlow lists: 1-based `page`, `per_page` at most 100, totals in the
 * `Total` and `Per-Page` response headers. Pure, so it is unit-tested on its own.
 */

/** DoorFlow caps `per_page` at 100 for people. */
export const MAX_PER_PAGE = 100;

/**
 * Credential lists default to 500 a page (contract §2), so we ask for that: a re-sync of unchanged
 * people then costs one credential call per 500 people instead of per 100.
 */
export const CREDENTIALS_PER_PAGE = 500;

/** A requested page size clamped to 1..100 (default 100: fewest requests from the budget). */
export function clampPerPage(perPage: number | undefined): number {
  if (perPage === undefined || !Number.isFinite(perPage)) return MAX_PER_PAGE;
  return Math.min(MAX_PER_PAGE, Math.max(1, Math.floor(perPage)));
}

/** A non-negative integer header (`Total`, `Per-Page`); undefined when absent or malformed. */
export function parseCountHeader(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || !/^\s*\d+\s*$/.test(raw)) return undefined;
  return Number(raw.trim());
}

export interface PageFacts {
  /** 1-based page just received. */
  page: number;
  /** The `per_page` we asked for. */
  requestedPerPage: number;
  /** `Per-Page` header: the server may serve fewer than asked. */
  perPageHeader: number | undefined;
  /** `Total` header. */
  total: number | undefined;
  /** Items on the page just received. */
  received: number;
}

/** The page size the server really used. */
function effectivePerPage(facts: Pick<PageFacts, 'requestedPerPage' | 'perPageHeader'>): number {
  return facts.perPageHeader && facts.perPageHeader > 0 ? facts.perPageHeader : facts.requestedPerPage;
}

/**
 * Whether another page follows. With a `Total` header: until page × per-page reaches it. Without:
 * while pages come back full. An empty page always ends the walk (the list shrank under us).
 */
export function hasMorePages(facts: PageFacts): boolean {
  if (facts.received === 0) return false;
  const perPage = effectivePerPage(facts);
  if (facts.total !== undefined) return facts.page * perPage < facts.total;
  return facts.received >= perPage;
}

/** An upper bound on pages to fetch, so a misbehaving server cannot make us loop forever. */
export function maxPages(total: number | undefined, perPage: number): number {
  if (total === undefined) return Number.POSITIVE_INFINITY;
  return Math.ceil(total / Math.max(1, perPage)) + 1;
}
