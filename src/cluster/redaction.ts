/**
 * Scrubbing credentials out of diagnostic data (support bundles): private keys, bearer and basic
 * `Authorization` values, `X-Auth-Token` headers, JSON Web Tokens (ServiceAccount tokens), well
 * known API token shapes, passwords in URLs, and the values of `password`/`token`/`secret`…
 * keys, in free text (logs, ConfigMap files) and in structured objects (CR fields, container
 * `env` lists). Every replacement is counted by rule and location, never keeping the value.
 *
 * Written here rather than taken from a library: the npm redaction packages (e.g. `redact-pii`,
 * `@hapi/…` log filters) either target personal data, need a list of exact key paths, or scrub
 * only structured logs; a support bundle needs both free text and objects, and a report.
 *
 * Key matching is by suffix of the normalised key (`db_password`, `adminPassword`,
 * `AWS_SECRET_ACCESS_KEY`), so references and settings that merely mention a secret survive:
 * `secretName`, `passwordFile`, `tokenExpirySeconds`, `password_min_length`.
 *
 * @module
 */

/** What replaces a scrubbed value. */
export const REDACTED = '[redacted]';

/** One kind of credential found and scrubbed at one place. */
export interface RedactionFinding {
  /** File or object path inside the bundle. */
  readonly where: string;
  /** Which rule matched, e.g. `private-key`, `bearer`, `jwt`, `secret-key-value`. */
  readonly rule: RedactionRule;
  /** How many values it replaced there. */
  readonly count: number;
}

/** The rules of {@link scrubText} and {@link scrubObject}. */
export type RedactionRule =
  | 'private-key'
  | 'authorization-header'
  | 'auth-token-header'
  | 'jwt'
  | 'api-token'
  | 'url-password'
  | 'secret-key-value'
  | 'secret-flag'
  | 'secret-env';

/** Keys (normalised: lowercase, no `_ - .`) whose value is a credential, matched as a suffix. */
const SECRET_KEY_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'secret',
  'secretkey',
  'secretaccesskey',
  'token',
  'apikey',
  'accesskey',
  'privatekey',
  'credential',
  'credentials',
  'sessionkey',
] as const;

/** Keys that are credentials only as a whole (`auth` of a docker config, not `oauth`). */
const SECRET_KEYS_EXACT = new Set(['auth', 'bearer', 'cookie', 'setcookie']);

/** Whether a key (`DB_PASSWORD`, `secretAccessKey`, `auth_token`) names a credential. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[_.\-\s]/g, '');
  if (k === '') return false;
  return SECRET_KEYS_EXACT.has(k) || SECRET_KEY_SUFFIXES.some((s) => k.endsWith(s));
}

/** Values that are not credentials even under a secret key (already scrubbed, empty, placeholders). */
function isHarmless(value: string): boolean {
  const v = value.trim();
  return v === '' || v === REDACTED || v === 'null' || v === 'true' || v === 'false' || v === '""' || v === "''" || /^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(v) || /^\*+$/.test(v);
}

type Replacer = (count: () => void, ...groups: string[]) => string;

const TEXT_RULES: readonly { rule: RedactionRule; re: RegExp; replace: Replacer }[] = [
  {
    // Any PEM private key (RSA, EC, OPENSSH, ENCRYPTED, PKCS#8); certificates are public and stay.
    rule: 'private-key',
    re: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g,
    replace: (count, kind = '') => {
      count();
      return `-----BEGIN ${kind}PRIVATE KEY----- ${REDACTED} -----END ${kind}PRIVATE KEY-----`;
    },
  },
  {
    rule: 'authorization-header',
    re: /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(bearer|basic|token|negotiate)\s+([^\s"',;}]+)/gi,
    replace: (count, head = '', scheme = '') => {
      count();
      return `${head}${scheme} ${REDACTED}`;
    },
  },
  {
    // Bearer values outside a header (`curl -H "Bearer …"`, log lines).
    rule: 'authorization-header',
    re: /\b(bearer)\s+([A-Za-z0-9\-._~+/]{8,}=*)/gi,
    replace: (count, scheme = '', value = '') => {
      if (value === REDACTED) return `${scheme} ${value}`;
      count();
      return `${scheme} ${REDACTED}`;
    },
  },
  {
    rule: 'auth-token-header',
    re: /\b(x-auth-token["']?\s*[:=]\s*["']?)([^\s"',;}]+)/gi,
    replace: (count, head = '', value = '') => {
      if (value === REDACTED) return `${head}${value}`;
      count();
      return `${head}${REDACTED}`;
    },
  },
  {
    // Three base64url segments, the first two JSON objects: Kubernetes ServiceAccount and OIDC tokens.
    rule: 'jwt',
    re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
    replace: (count) => {
      count();
      return REDACTED;
    },
  },
  {
    // GitHub, GitLab, Slack, AWS access key ids, Google API keys, npm tokens.
    rule: 'api-token',
    re: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36})\b/g,
    replace: (count) => {
      count();
      return REDACTED;
    },
  },
  {
    rule: 'url-password',
    re: /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@"']+:)([^@\s/"']+)@/gi,
    replace: (count, head = '', value = '') => {
      if (value === REDACTED) return `${head}${value}@`;
      count();
      return `${head}${REDACTED}@`;
    },
  },
  {
    // `--password hunter2`, `--db-token=…` is caught by the key rule below.
    rule: 'secret-flag',
    re: /(\s--?[A-Za-z0-9-]*(?:password|passwd|token|secret|api-key|apikey))(\s+)(?!-)([^\s"']+)/gi,
    replace: (count, flag = '', space = '', value = '') => {
      if (isHarmless(value)) return `${flag}${space}${value}`;
      count();
      return `${flag}${space}${REDACTED}`;
    },
  },
  {
    // key: value, key=value, "key": "value", key = 'value' (YAML, JSON, INI, env files, logfmt, query strings).
    rule: 'secret-key-value',
    re: /(["']?)([A-Za-z_][A-Za-z0-9_.-]*)\1([ \t]*(?::|=)[ \t]*)(?:"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)'|([^\s"',;}&#]+))/g,
    replace: (count, q = '', key = '', sep = '', dq, sq, bare) => {
      const whole = `${q}${key}${q}${sep}${dq !== undefined ? `"${dq}"` : sq !== undefined ? `'${sq}'` : (bare ?? '')}`;
      const value = dq ?? sq ?? bare ?? '';
      // `key: value` only when the separator is `:` followed by a space or a quote (YAML, JSON);
      // this keeps `https://…`, `sha256:…` and `host:port` away from the rule.
      if (sep.trim() === ':' && !/:[ \t]/.test(sep) && dq === undefined && sq === undefined) return whole;
      if (!isSecretKey(key) || isHarmless(value)) return whole;
      count();
      const replaced = dq !== undefined ? `"${REDACTED}"` : sq !== undefined ? `'${REDACTED}'` : REDACTED;
      return `${q}${key}${q}${sep}${replaced}`;
    },
  },
];

/** Collects findings over many texts and objects, keyed by place and rule. */
export class RedactionReport {
  readonly #counts = new Map<string, number>();

  /** Adds `count` replacements of `rule` at `where`. */
  add(where: string, rule: RedactionRule, count = 1): void {
    if (count <= 0) return;
    const key = `${where}\u0000${rule}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + count);
  }

  /** Every finding, sorted by place then rule. */
  findings(): RedactionFinding[] {
    return [...this.#counts.entries()]
      .map(([k, count]) => {
        const [where = '', rule = ''] = k.split('\u0000');
        return { where, rule: rule as RedactionRule, count };
      })
      .sort((a, b) => (a.where === b.where ? (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) : a.where < b.where ? -1 : 1));
  }

  /** Total replacements. */
  get total(): number {
    let n = 0;
    for (const c of this.#counts.values()) n += c;
    return n;
  }
}

/** Options of {@link scrubText} and {@link scrubObject}. */
export interface ScrubOptions {
  /** Where the text comes from (a bundle path), the key of each count in `report`. @default '' */
  readonly where?: string | undefined;
  /** Counts each replacement. @default none (nothing counted) */
  readonly report?: RedactionReport | undefined;
}

/**
 * Scrubs credentials from a text; counts each replacement in `options.report` under `options.where`.
 *
 * @example
 * ```ts
 * const report = new RedactionReport();
 * scrubText('Authorization: Bearer abc.def.ghi', { where: 'logs/op.log', report }); // 'Authorization: Bearer [redacted]'
 * ```
 */
export function scrubText(text: string, options: ScrubOptions = {}): string {
  const { where = '', report } = options;
  let out = text;
  for (const { rule, re, replace } of TEXT_RULES) {
    out = out.replace(re, (_match, ...rest: unknown[]) => {
      const groups = rest.slice(0, -2).map((g) => (typeof g === 'string' ? g : undefined)) as string[];
      return replace(() => report?.add(where, rule), ...groups);
    });
  }
  return out;
}

/**
 * Scrubs a JSON-like value: values under secret keys, `{name: DB_PASSWORD, value: …}` pairs
 * (container `env`), and every string through {@link scrubText}. Returns a new value.
 */
export function scrubObject<T>(value: T, options: ScrubOptions = {}): T {
  const { where = '', report } = options;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrubText(v, options);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v !== 'object' || v === null) return v;
    const obj = v as Record<string, unknown>;
    const envPair = typeof obj.name === 'string' && typeof obj.value === 'string' && isSecretKey(obj.name) && !isHarmless(obj.value);
    const out: Record<string, unknown> = {};
    for (const [k, child] of Object.entries(obj)) {
      if (envPair && k === 'value') {
        report?.add(where, 'secret-env');
        out[k] = REDACTED;
      } else if (typeof child === 'string' && isSecretKey(k) && !isHarmless(child) && !child.includes('\n')) {
        report?.add(where, 'secret-key-value');
        out[k] = REDACTED;
      } else {
        out[k] = walk(child);
      }
    }
    return out;
  };
  return walk(value) as T;
}
