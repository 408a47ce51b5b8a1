#!/usr/bin/env node
// The layout rules that dependency-cruiser, knip and jscpd cannot express (README.md,
// "Development"). Plain Node, no dependencies: `node scripts/check-architecture.mjs`, part of
// `npm run lint`. Prints one `file:line: rule — what to do` per finding and exits 1 when any.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');

/** The one file that may spell a Redis key. */
const KEYS_MODULE = 'src/lib/store/keys.ts';
/** The one file that may read the environment. */
const CONFIG_MODULE = 'src/lib/core/config.ts';
/** The only module that builds BullMQ Workers (and so the one job boundary). */
const WORKER_MODULE = 'src/processors/worker.ts';
/** The simulator keeps its own (in-memory) state and is not bound by the Redis key rule. */
const KEY_RULE_EXEMPT = ['src/simulator/'];
/** Where docs and comments must not cite files a clone does not have. */
const CITATION_SCOPE = [
  'src',
  'docs',
  'test',
  'bench',
  'chaos',
  'README.md',
  'RELIABILITY.md',
  'BENCHMARKS.md',
  '.env.example',
];
const SKIP_DIRS = new Set(['node_modules', 'results', 'dist', 'coverage', 'test-artifacts', '.git']);
const TEXT_FILE = /\.(ts|js|mjs|cjs|md|json|csv|txt|ya?ml|example)$/;

/**
 * A template literal that puts a `:` right after an expression naming a prefix or calling a key
 * builder (`${prefix}:lock:…`, `${this.prefix}:runs`, `${runKeys(prefix, id).run}:names`), or a
 * concatenation `prefix + ':'`.
 */
const KEY_PATTERNS = [/\$\{[^{}`]*(?:[pP]refix|Keys?\()[^{}`]*\}:/, /prefix\s*\+\s*(['"`]):/i];
const CAST_PATTERN = /\bas\s+(never|unknown\s+as)\b/;
const WORKER_PATTERN = /\bnew\s+Worker\s*[<(]/;
const ENV_PATTERNS = [
  /\bprocess\s*(?:\?\.|\.)\s*env\b/,
  /\bprocess\s*\[\s*['"`]env['"`]\s*\]/,
  /\{[^}]*\benv\b[^}]*\}\s*=\s*process\b/,
  /import\s*\{[^}]*\benv\b[^}]*\}\s*from\s*['"](?:node:)?process['"]/,
];
const CITATION_PATTERN = /(?<![\w.-])(?:\.\.?\/)*shared\/|doorflow-api\.md/;

const RULES = {
  key: 'redis-key-outside-keys — spell the key in src/lib/store/keys.ts and call it from here',
  cast: 'no-escape-cast — type the value properly (a schema parse, a generic, defineProcessor<Q>()) instead of casting',
  env: 'env-outside-config — read it in src/lib/core/config.ts and pass the parsed value in',
  worker:
    'worker-outside-boundary — only src/processors/worker.ts builds BullMQ Workers: add a processor definition to processor-list.ts instead',
  citation:
    'citation-outside-repo — a clone has no shared/: cite docs/doorflow-contract.md (or another file in the repo)',
};

/** Every file under `dir` (repo-relative, forward slashes), skipping build output and results. */
function walk(dir) {
  const abs = join(ROOT, dir);
  let stat;
  try {
    stat = statSync(abs);
  } catch {
    return [];
  }
  if (stat.isFile()) return [dir];
  const out = [];
  for (const entry of readdirSync(abs, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...walk(rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Blanks out comments (and, with `strings`, the text of string and template literals, though not
 * the `${…}` expressions inside templates), keeping every newline so line numbers stay true.
 * A small scanner, not a parser: good enough for this repo's TypeScript; a regex literal holding
 * a quote could fool it.
 */
function blank(source, { strings }) {
  let out = '';
  let i = 0;
  /** Open template literals; each entry counts the `{` nesting of its current `${…}`. */
  const templates = [];
  const keep = (ch) => {
    out += ch;
  };
  const hide = (ch) => {
    out += ch === '\n' ? '\n' : ' ';
  };
  const inTemplateText = () => templates.length > 0 && templates[templates.length - 1] === -1;
  while (i < source.length) {
    const ch = source[i];
    const next = source[i + 1];
    if (inTemplateText()) {
      if (ch === '\\') {
        (strings ? hide : keep)(ch);
        (strings ? hide : keep)(next ?? '');
        i += 2;
      } else if (ch === '`') {
        templates.pop();
        keep(ch);
        i += 1;
      } else if (ch === '$' && next === '{') {
        templates[templates.length - 1] = 0;
        keep('${');
        i += 2;
      } else {
        (strings ? hide : keep)(ch);
        i += 1;
      }
      continue;
    }
    if (ch === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') hide(source[i++]);
      continue;
    }
    if (ch === '/' && next === '*') {
      hide(source[i++]);
      hide(source[i++]);
      while (i < source.length && !(source[i] === '*' && source[i + 1] === '/')) hide(source[i++]);
      if (i < source.length) {
        hide(source[i++]);
        hide(source[i++]);
      }
      continue;
    }
    if (ch === "'" || ch === '"') {
      keep(ch);
      i += 1;
      while (i < source.length && source[i] !== ch && source[i] !== '\n') {
        if (source[i] === '\\') (strings ? hide : keep)(source[i++]);
        if (i < source.length) (strings ? hide : keep)(source[i++]);
      }
      if (i < source.length) keep(source[i++]);
      continue;
    }
    if (ch === '`') {
      templates.push(-1);
      keep(ch);
      i += 1;
      continue;
    }
    if (templates.length > 0 && ch === '{') templates[templates.length - 1] += 1;
    if (templates.length > 0 && ch === '}') {
      if (templates[templates.length - 1] === 0) {
        templates[templates.length - 1] = -1;
        keep(ch);
        i += 1;
        continue;
      }
      templates[templates.length - 1] -= 1;
    }
    keep(ch);
    i += 1;
  }
  return out;
}

const findings = [];
const report = (file, lineIndex, rule) => findings.push(`${file}:${lineIndex + 1}: ${RULES[rule]}`);

function eachLine(text, test, onMatch) {
  text.split('\n').forEach((line, index) => {
    if (test(line)) onMatch(index);
  });
}

const sources = walk('src').filter((file) => /\.(ts|mts|cts|js|mjs)$/.test(file));
for (const file of sources) {
  const source = readFileSync(join(ROOT, file), 'utf8');
  const code = blank(source, { strings: false });
  const bare = blank(source, { strings: true });
  if (file !== KEYS_MODULE && !KEY_RULE_EXEMPT.some((dir) => file.startsWith(dir))) {
    eachLine(
      code,
      (line) => KEY_PATTERNS.some((re) => re.test(line)),
      (i) => report(file, i, 'key'),
    );
  }
  eachLine(
    bare,
    (line) => CAST_PATTERN.test(line),
    (i) => report(file, i, 'cast'),
  );
  if (file !== WORKER_MODULE) {
    eachLine(
      code,
      (line) => WORKER_PATTERN.test(line),
      (i) => report(file, i, 'worker'),
    );
  }
  if (file !== CONFIG_MODULE) {
    eachLine(
      bare,
      (line) => ENV_PATTERNS.some((re) => re.test(line)),
      (i) => report(file, i, 'env'),
    );
  }
}

for (const file of CITATION_SCOPE.flatMap(walk).filter((f) => TEXT_FILE.test(f))) {
  const text = readFileSync(join(ROOT, file), 'utf8');
  eachLine(
    text,
    (line) => CITATION_PATTERN.test(line),
    (i) => report(file, i, 'citation'),
  );
}

if (findings.length > 0) {
  for (const line of findings) console.log(line);
  console.log(`\n${findings.length} architecture finding(s) (scripts/check-architecture.mjs).`);
  process.exitCode = 1;
} else {
  console.log(`check-architecture: ${sources.length} source files, no findings.`);
}
