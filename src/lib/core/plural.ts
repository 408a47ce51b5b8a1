/**
 * A count with its noun in the right number, for output people read: `1 entry`, `2 entries`,
 * `0 rows`. The plural is `singular + 's'` unless given.
 */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
