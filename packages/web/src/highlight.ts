/**
 * A small syntax colourer for text previews (no dependency): per language
 * family a few rules — comments, strings, numbers, keywords, tags, keys —
 * joined into one regular expression and run once over the text. It gives
 * tokens (`[class, text]`); the preview makes them spans with textContent,
 * so nothing in a file can become markup. Unknown languages come out plain.
 */

/** One token: a class (`""` for plain text) and its text. */
export type Token = [cls: string, text: string];

interface Lang {
  /** Rules in order of precedence; each source without capturing groups. */
  readonly rules: readonly [cls: string, source: string][];
  readonly keywords?: ReadonlySet<string>;
  readonly caseless?: boolean;
}

const words = (s: string) => new Set(s.split(/\s+/).filter(Boolean));

const NUM = String.raw`\b(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)\b`;
const DQ = String.raw`"(?:[^"\\\n]|\\.)*"?`;
const SQ = String.raw`'(?:[^'\\\n]|\\.)*'?`;
const BQ = String.raw`\`(?:[^\`\\]|\\[\s\S])*\`?`;
const BLOCK = String.raw`\/\*[\s\S]*?(?:\*\/|(?![\s\S]))`;
const LINE = String.raw`\/\/[^\n]*`;
const HASH = String.raw`#[^\n]*`;

const C_KEYWORDS = words(`
  abstract as async await break case catch char class const continue crate debugger def default defer
  delete do double else enum export extends extern false final finally float fn for from func function go goto
  if impl implements import in instanceof int interface let long loop match mod module mut namespace
  new nil null override package private protected pub public readonly return select self short static
  struct super switch this throw throws trait true try type typeof undefined union unsafe use using var
  void volatile where while with yield boolean bool string number any unknown never chan map range
  fallthrough sizeof typedef unsigned signed auto register inline constexpr template typename virtual
  Self None Some Ok Err
`);
const PY_KEYWORDS = words(`
  and as assert async await break class continue def del elif else except False finally for from global
  if import in is lambda None nonlocal not or pass raise return True try while with yield self match case
`);
const SH_KEYWORDS = words(`
  if then else elif fi for while until do done case esac in function return local export readonly
  declare set unset shift exit break continue echo printf cd source alias test true false
`);
const SQL_KEYWORDS = words(`
  select from where insert into values update set delete create table index view drop alter add column
  primary key foreign references not null unique default and or in is like between join left right inner
  outer on group by order having limit offset as distinct union all case when then else end begin commit
  rollback transaction integer text real blob varchar
`);
const LITERALS = words('true false null yes no on off');

const C_LIKE: Lang = {
  rules: [
    ['com', BLOCK],
    ['com', LINE],
    ['str', DQ],
    ['str', SQ],
    ['str', BQ],
    ['num', NUM],
  ],
  keywords: C_KEYWORDS,
};
const PYTHON: Lang = {
  rules: [
    ['com', HASH],
    ['str', String.raw`"""[\s\S]*?(?:"""|(?![\s\S]))`],
    ['str', String.raw`'''[\s\S]*?(?:'''|(?![\s\S]))`],
    ['str', DQ],
    ['str', SQ],
    ['num', NUM],
  ],
  keywords: PY_KEYWORDS,
};
const SHELL: Lang = {
  rules: [
    ['com', String.raw`(?:^|(?<=\s))#[^\n]*`],
    ['str', DQ],
    ['str', SQ],
    ['var', String.raw`\$\{[^}\n]*\}?|\$[A-Za-z_][\w]*|\$[0-9@#?*!$-]`],
    ['num', NUM],
  ],
  keywords: SH_KEYWORDS,
};
const CONFIG: Lang = {
  rules: [
    ['com', String.raw`(?:^|(?<=\s))[#;][^\n]*`],
    ['head', String.raw`^[ \t]*\[[^\]\n]*\]`],
    ['key', String.raw`^[ \t]*-?[ \t]*[\w.-]+(?=[ \t]*[:=])`],
    ['str', DQ],
    ['str', SQ],
    ['num', NUM],
  ],
  keywords: LITERALS,
};
const JSON_LANG: Lang = {
  rules: [
    ['key', String.raw`"(?:[^"\\\n]|\\.)*"(?=\s*:)`],
    ['str', DQ],
    ['num', `-?${NUM}`],
  ],
  keywords: words('true false null'),
};
const CSS: Lang = {
  rules: [
    ['com', BLOCK],
    ['str', DQ],
    ['str', SQ],
    ['key', String.raw`[\w-]+(?=\s*:[^;{}\n]*[;}])`],
    ['num', String.raw`#[0-9a-fA-F]{3,8}\b|${NUM}`],
  ],
};
const MARKUP: Lang = {
  rules: [
    ['com', String.raw`<!--[\s\S]*?(?:-->|(?![\s\S]))`],
    ['tag', String.raw`<\/?[A-Za-z][\w:.-]*|\/?>`],
    ['key', String.raw`\b[\w:-]+(?==)`],
    ['str', DQ],
    ['str', SQ],
  ],
};
const MARKDOWN: Lang = {
  rules: [
    ['head', String.raw`^#{1,6}[ \t][^\n]*`],
    ['str', String.raw`\`\`\`[\s\S]*?(?:\`\`\`|(?![\s\S]))|\`[^\`\n]*\``],
    ['key', String.raw`\[[^\]\n]*\](?=\()`],
    ['com', String.raw`^>[^\n]*`],
  ],
};
const SQL: Lang = {
  rules: [
    ['com', String.raw`--[^\n]*`],
    ['com', BLOCK],
    ['str', SQ],
    ['str', DQ],
    ['num', NUM],
  ],
  keywords: SQL_KEYWORDS,
  caseless: true,
};

const BY_EXT: Record<string, Lang> = {};
const add = (lang: Lang, exts: string) => {
  for (const e of exts.split(' ')) BY_EXT[e] = lang;
};
add(
  C_LIKE,
  'js mjs cjs jsx ts mts cts tsx java c h cc cpp cxx hpp hh go rs cs kt kts swift php scala dart groovy gradle zig',
);
add(PYTHON, 'py pyw pyi');
add(SHELL, 'sh bash zsh ksh fish bashrc zshrc profile env');
add(CONFIG, 'yaml yml toml ini cfg conf properties service desktop');
add(JSON_LANG, 'json jsonc json5 webmanifest map lock');
add(CSS, 'css scss less');
add(MARKUP, 'html htm xml svg xhtml vue plist');
add(MARKDOWN, 'md markdown');
add(SQL, 'sql');

const BY_NAME: Record<string, Lang> = {
  Makefile: CONFIG,
  Dockerfile: SHELL,
  '.bashrc': SHELL,
  '.profile': SHELL,
  '.zshrc': SHELL,
  '.gitconfig': CONFIG,
};

/** The language family of a file name, if there is one. */
export function languageOf(name: string): string | undefined {
  const lang = pick(name);
  if (!lang) return undefined;
  return Object.entries(FAMILIES).find(([, l]) => l === lang)?.[0];
}

const FAMILIES: Record<string, Lang> = {
  code: C_LIKE,
  python: PYTHON,
  shell: SHELL,
  config: CONFIG,
  json: JSON_LANG,
  css: CSS,
  markup: MARKUP,
  markdown: MARKDOWN,
  sql: SQL,
};

function pick(name: string): Lang | undefined {
  const byName = BY_NAME[name];
  if (byName) return byName;
  const i = name.lastIndexOf('.');
  return i < 0 ? undefined : BY_EXT[name.slice(i + 1).toLowerCase()];
}

const COMPILED = new WeakMap<Lang, RegExp>();

function compiled(lang: Lang): RegExp {
  let re = COMPILED.get(lang);
  if (!re) {
    const alternatives = lang.rules.map(([, source]) => `(${source})`);
    if (lang.keywords) alternatives.push(String.raw`([A-Za-z_$][\w$]*)`);
    re = new RegExp(alternatives.join('|'), 'gm');
    COMPILED.set(lang, re);
  }
  return re;
}

/** `text` as tokens for a file called `name` (one plain token when the language is unknown). */
export function highlight(text: string, name: string): Token[] {
  const lang = pick(name);
  if (!lang) return text === '' ? [] : [['', text]];
  const re = compiled(lang);
  re.lastIndex = 0;
  const out: Token[] = [];
  let plain = 0;
  const push = (cls: string, s: string) => {
    if (s === '') return;
    const last = out[out.length - 1];
    if (last && last[0] === cls) last[1] += s;
    else out.push([cls, s]);
  };
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    let cls = '';
    for (let g = 1; g < m.length; g++) {
      if (m[g] === undefined) continue;
      if (g <= lang.rules.length) cls = lang.rules[g - 1]?.[0] ?? '';
      else {
        const word = lang.caseless ? m[0].toLowerCase() : m[0];
        cls = lang.keywords?.has(word) ? 'kw' : '';
      }
      break;
    }
    push('', text.slice(plain, m.index));
    push(cls, m[0]);
    plain = m.index + m[0].length;
  }
  push('', text.slice(plain));
  return out;
}
