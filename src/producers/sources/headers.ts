import { PayloadError } from '../../lib/core/errors.ts';

/**
 * Maps human column headers (`Employee ID`, `Given Name`, `Work Email` …) to roster fields.
 * Matching ignores case, spaces, underscores, hyphens and dots, so `FIRST_NAME`, `First Name`
 * and `first-name` are one header.
 */

/** Roster fields a source column can feed. `status` and `termination_date` only mark leavers. */
export const ROSTER_FIELDS = [
  'system_id',
  'first_name',
  'last_name',
  'email',
  'mobile',
  'department',
  'job_title',
  'groups',
  'delivery',
  'status',
  'termination_date',
] as const;
export type RosterField = (typeof ROSTER_FIELDS)[number];

const FIELD_SET: ReadonlySet<string> = new Set(ROSTER_FIELDS);

/** Built-in aliases, already normalised with {@link normaliseHeader}. */
const BUILT_IN_ALIASES: Readonly<Record<RosterField, readonly string[]>> = {
  system_id: [
    'systemid',
    'employeeid',
    'employeenumber',
    'employeeno',
    'employeenum',
    'empid',
    'empno',
    'staffid',
    'staffnumber',
    'personnelnumber',
    'workerid',
    'externalid',
    'employeenumberid',
    'employeeref',
    'badgeid',
    'badgeno',
    'badgenumber',
    'personid',
    'personno',
    'personnumber',
    'staffno',
  ],
  first_name: ['firstname', 'givenname', 'forename', 'first', 'preferredfirstname'],
  last_name: ['lastname', 'surname', 'familyname', 'last'],
  email: ['email', 'workemail', 'emailaddress', 'workemailaddress', 'businessemail', 'mail'],
  mobile: [
    'mobile',
    'mobilephone',
    'mobilenumber',
    'mobileno',
    'mobilephonenumber',
    'cell',
    'cellphone',
    'workmobile',
  ],
  department: ['department', 'dept', 'departmentname'],
  job_title: ['jobtitle', 'position', 'positiontitle', 'jobname'],
  groups: ['groups', 'groupids', 'group', 'accessgroups', 'doorflowgroups'],
  delivery: ['delivery', 'deliverychannel', 'deliverymethod'],
  status: ['status', 'employmentstatus', 'employeestatus', 'active'],
  termination_date: ['terminationdate', 'leavingdate', 'leavedate', 'enddate'],
};

/** Fields a roster cannot do without: a row needs both names. */
const REQUIRED_FIELDS: readonly RosterField[] = ['first_name', 'last_name'];

/** `Employee ID` → `employeeid`; `#` reads as "no", so `Employee #` → `employeeno`. */
export function normaliseHeader(header: string): string {
  return header
    .normalize('NFKC')
    .toLowerCase()
    .replace(/#/g, 'no')
    .replace(/[\s_.\-/]+/g, '');
}

/** Endings of a header that usually holds an identifier: `Badge Ref`, `Payroll No`, `Card ID`. */
const IDENTIFIER_LIKE = /(id|no|num|number|ref|reference|code|key)$/;

/** A column may hold people's identifiers (and so belong to `system_id`) though no alias says so. */
function looksLikeIdentifier(header: string): boolean {
  const norm = normaliseHeader(header);
  return IDENTIFIER_LIKE.test(norm) && !NOT_A_PERSON_ID.test(norm);
}

/** Numbers and codes that are not a person's identifier (`Phone No`, `Post Code`, `Cost Code`). */
const NOT_A_PERSON_ID = /phone|mobile|tel|cell|fax|post|zip|country|area|cost|group|dept|department/;

/** The `--map` flag that maps a header to a field, quoted for a POSIX shell. */
export function mapFlagFor(header: string, field: RosterField): string {
  const spec = `${header}=${field}`;
  return /["$`\\!]/.test(spec) ? `--map '${spec.replace(/'/g, `'\\''`)}'` : `--map "${spec}"`;
}

const ALIAS_TO_FIELD: ReadonlyMap<string, RosterField> = new Map(
  ROSTER_FIELDS.flatMap((field) => BUILT_IN_ALIASES[field].map((alias) => [alias, field] as const)),
);

/**
 * Parses `--map` specifications (`"Badge Ref=system_id"`, repeatable or comma-separated within
 * one flag is NOT supported because headers may contain commas). Throws a {@link PayloadError}
 * naming the bad spec.
 */
export function parseMapSpecs(specs: readonly string[]): Map<string, RosterField> {
  const map = new Map<string, RosterField>();
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    const header = eq > 0 ? spec.slice(0, eq).trim() : '';
    const field =
      eq > 0
        ? spec
            .slice(eq + 1)
            .trim()
            .toLowerCase()
        : '';
    if (!header || !FIELD_SET.has(field)) {
      throw new PayloadError(
        `invalid --map "${spec}": expected "Column Header=field" with field one of ${ROSTER_FIELDS.join(', ')}`,
      );
    }
    map.set(normaliseHeader(header), field as RosterField);
  }
  return map;
}

/** How the columns of one source map to roster fields. */
export interface HeaderMapping {
  /** Header texts as they appear in the source (BOM and surrounding spaces removed). */
  readonly headers: readonly string[];
  /** Column index → field, or undefined for an ignored column. */
  readonly columns: readonly (RosterField | undefined)[];
  /** Field → column index (first matching column wins). */
  readonly indexOf: Readonly<Partial<Record<RosterField, number>>>;
  /** Headers that matched nothing and are ignored (reported once). */
  readonly ignored: readonly string[];
  /**
   * Ignored headers that look like identifiers while no column feeds `system_id` (people are then
   * keyed by email): each may be the identifier column, mapped with {@link mapFlagFor}.
   */
  readonly possibleSystemIds: readonly string[];
}

/**
 * Resolves a header row. Explicit `--map` entries win over built-in aliases; a column named
 * exactly like a field (`system_id`) always maps. Fails fast, listing the headers it saw, when a
 * required field has no column.
 */
export function resolveHeaders(
  rawHeaders: readonly string[],
  explicit: ReadonlyMap<string, RosterField> = new Map(),
): HeaderMapping {
  const headers = rawHeaders.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  const columns: (RosterField | undefined)[] = headers.map(() => undefined);
  const indexOf: Partial<Record<RosterField, number>> = {};
  // Two passes: explicit --map entries claim their fields first, wherever their columns are.
  for (const pass of ['explicit', 'alias'] as const) {
    headers.forEach((header, index) => {
      if (columns[index] !== undefined) return;
      const norm = normaliseHeader(header);
      const field = pass === 'explicit' ? explicit.get(norm) : ALIAS_TO_FIELD.get(norm);
      if (field === undefined || indexOf[field] !== undefined) return;
      columns[index] = field;
      indexOf[field] = index;
    });
  }
  const ignored = headers.filter((header, index) => columns[index] === undefined && header !== '');
  const unusedMaps = [...explicit.keys()].filter((k) => !headers.some((h) => normaliseHeader(h) === k));
  const missing = REQUIRED_FIELDS.filter((f) => indexOf[f] === undefined);
  if (indexOf.system_id === undefined && indexOf.email === undefined) missing.push('system_id');
  if (missing.length > 0) {
    const seen = headers.map((h) => JSON.stringify(h)).join(', ');
    const hint =
      unusedMaps.length > 0 ? ` (--map named headers not in the file: ${unusedMaps.join(', ')})` : '';
    throw new PayloadError(
      `cannot map required ${missing.length === 1 ? 'column' : 'columns'} ${missing.join(', ')}${missing.includes('system_id') ? ' (or email)' : ''}; ` +
        `headers seen: ${seen}${hint}. Use --map "Your Header=field".`,
    );
  }
  const possibleSystemIds = indexOf.system_id === undefined ? ignored.filter(looksLikeIdentifier) : [];
  return { headers, columns, indexOf, ignored, possibleSystemIds };
}
