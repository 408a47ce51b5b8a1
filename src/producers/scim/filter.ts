import { type Filter, parse, Tester } from 'scim2-parse-filter';
import { ScimError } from './scim-error.ts';

/**
 * `filter=` on /Users (RFC 7644 §3.4.2.2), parsed and evaluated by scim2-parse-filter. Its tester
 * compares strings exactly; SCIM compares them by each attribute's `caseExact` (RFC 7643 §2.2),
 * and in the User schema only `id` and `externalId` are case-exact — so `userName eq` matches
 * whatever case the IdP sends.
 */

const CASE_EXACT = new Set(['id', 'externalid']);

function lastSegment(path: string): string {
  const afterUrn = path.slice(path.lastIndexOf(':') + 1);
  return (afterUrn.split('.').pop() ?? '').toLowerCase();
}

class ScimTester extends Tester {
  #exact = false;

  override test(r: unknown, f: Filter): boolean {
    if ('compValue' in f) this.#exact = CASE_EXACT.has(lastSegment(f.attrPath));
    return super.test(r, f);
  }

  #fold<T>(value: T): T | string {
    return !this.#exact && typeof value === 'string' ? value.toLowerCase() : value;
  }

  override eq(r: unknown, v: string | number | boolean | null): boolean {
    return super.eq(this.#fold(r), this.#fold(v));
  }
  override ne(r: unknown, v: string | number | boolean | null): boolean {
    return super.ne(this.#fold(r), this.#fold(v));
  }
  override co(r: unknown, v: string | number | boolean | null): boolean {
    return super.co(this.#fold(r), this.#fold(v));
  }
  override sw(r: unknown, v: string | number | boolean | null): boolean {
    return super.sw(this.#fold(r), this.#fold(v));
  }
  override ew(r: unknown, v: string | number | boolean | null): boolean {
    return super.ew(this.#fold(r), this.#fold(v));
  }
}

/** A parsed filter as a predicate on resources; a filter that does not parse is a 400 `invalidFilter`. */
export function compileFilter(text: string): (resource: Record<string, unknown>) => boolean {
  let ast: Filter;
  try {
    ast = parse(text);
  } catch {
    throw new ScimError(400, 'the filter is not a valid SCIM filter expression', 'invalidFilter');
  }
  const tester = new ScimTester();
  return (resource) => tester.test(resource, ast);
}
