/**
 * A strict parser for the Prometheus text exposition format (0.0.4), for tests: it throws on any
 * line that does not follow the format, on samples without a declared TYPE, on duplicate series,
 * and on histograms whose buckets are not cumulative or whose +Inf bucket differs from _count.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

const METRIC = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SAMPLE_RE = new RegExp(`^(${METRIC})(\\{.*\\})?\\s+(\\S+)(\\s+-?\\d+)?$`);

function parseValue(text: string, line: string): number {
  // Prometheus parses values with Go's strconv.ParseFloat: NaN and Inf are case-insensitive.
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

function parseLabels(body: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  const end = body.length - 1; // the '}'
  while (i < end) {
    const nameMatch = new RegExp(`^(${LABEL})="`).exec(body.slice(i));
    if (!nameMatch?.[1]) throw new Error(`bad label name in: ${line}`);
    const name = nameMatch[1];
    i += nameMatch[0].length;
    let value = '';
    for (;;) {
      const c = body[i];
      if (c === undefined || i >= end) throw new Error(`unterminated label value in: ${line}`);
      if (c === '\\') {
        const n = body[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new Error(`bad escape in: ${line}`);
        i += 2;
        continue;
      }
      if (c === '"') {
        i++;
        break;
      }
      value += c;
      i++;
    }
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`);
    labels[name] = value;
    if (body[i] === ',') i++;
    else if (i !== end) throw new Error(`expected , or } in: ${line}`);
  }
  return labels;
}

function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (!sample.endsWith(suffix)) continue;
    const family = families.get(sample.slice(0, -suffix.length));
    if (family && (family.type === 'histogram' || family.type === 'summary')) return family;
  }
  return undefined;
}

export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${METRIC}) ?(.*)$`).exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      const family = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples in: ${line}`);
        family.type = rest;
      } else family.help = rest;
      families.set(name, family);
      continue;
    }
    const m = SAMPLE_RE.exec(line);
    if (!m?.[1] || m[3] === undefined) throw new Error(`not a sample line: ${line}`);
    const labels = m[2] ? parseLabels(m[2], line) : {};
    const family = familyOf(m[1], families);
    if (!family || family.type === 'untyped') throw new Error(`sample without a declared TYPE: ${line}`);
    const id = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) throw new Error(`duplicate series: ${line}`);
    seen.add(id);
    family.samples.push({ name: m[1], labels, value: parseValue(m[3], line) });
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function checkHistogram(family: PromFamily): void {
  const groups = new Map<string, PromSample[]>();
  for (const s of family.samples.filter((x) => x.name.endsWith('_bucket'))) {
    const { le: _le, ...rest } = s.labels;
    const id = JSON.stringify(Object.entries(rest).sort());
    groups.set(id, [...(groups.get(id) ?? []), s]);
  }
  for (const [id, buckets] of groups) {
    let previous = 0;
    for (const b of buckets) {
      if (b.value < previous) throw new Error(`${family.name}: buckets not cumulative`);
      previous = b.value;
    }
    const inf = buckets.find((b) => b.labels.le === '+Inf');
    const count = family.samples.find(
      (s) => s.name === `${family.name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === id,
    );
    if (!inf || !count || inf.value !== count.value)
      throw new Error(`${family.name}: +Inf bucket differs from _count`);
  }
}

/** The value of one series (labels must match exactly the given subset), or undefined. */
export function sampleValue(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** Sum over every series of a sample name whose labels include the given subset. */
export function sampleSum(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
  }
  return total;
}
