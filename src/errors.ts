/**
 * The SDK's one error family.
 *
 * Every error the SDK throws on purpose is an {@link SdkError}: a stable string `code` that
 * scripts can branch on, a human `message` naming the field, file or object at fault, and a
 * `hint` saying what to do next. Layers throw their own subclass so a caller can tell a bad
 * solution file from a broken registry or an unreachable cluster with `instanceof`.
 *
 * Credentials never reach a message: use {@link redact} on anything that may carry a token,
 * a password or an `Authorization` header before putting it in an error.
 *
 * @module
 */

/** Options shared by every SDK error. */
export interface SdkErrorOptions {
  /** What the user should do about it, as one sentence. */
  readonly hint?: string | undefined;
  /** The lower-level error this one explains. */
  readonly cause?: unknown;
}

/** Base class of every error the SDK throws on purpose. */
export class SdkError extends Error {
  /** Stable machine-readable code, e.g. `ISO_DEPTH_EXCEEDED`. Never changes between releases. */
  readonly code: string;
  /** What to do next, when the SDK knows. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: SdkErrorOptions = {}) {
    super(redact(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint === undefined ? undefined : redact(options.hint);
  }
}

/** Severity of a validation issue: errors block, warnings never throw. */
export type IssueSeverity = 'error' | 'warning';

/** One problem found while validating a solution, an archive or any other input. */
export interface Issue {
  /** Stable code, e.g. `NAME_RESERVED_PREFIX`. */
  readonly code: string;
  /** Where: a dotted path into the input (`operator.image`, `crds[1].versions[0].name`), or a file path. */
  readonly path: string;
  readonly message: string;
  readonly severity: IssueSeverity;
  /** What to do about it. */
  readonly hint?: string | undefined;
}

/** Thrown when an input has one or more error-severity issues; carries all of them at once. */
export class ValidationError extends SdkError {
  /** Every issue found, errors and warnings, in input order. */
  readonly issues: readonly Issue[];

  constructor(issues: readonly Issue[], subject = 'solution') {
    const errors = issues.filter((i) => i.severity === 'error');
    const first = errors[0];
    const summary =
      errors.length === 1 && first
        ? `${subject} is invalid: ${first.path ? `${first.path}: ` : ''}${first.message}`
        : `${subject} is invalid: ${errors.length} errors`;
    super('VALIDATION_FAILED', summary, {
      hint: 'Fix every error listed in `issues` (each names its path), then try again.',
    });
    this.issues = issues;
  }
}

/** Building an archive, reading or writing an ISO, laying out images. */
export class PackagingError extends SdkError {}

/** Reading or writing ISO 9660 images. */
export class IsoError extends PackagingError {}

/** Options of errors from a remote service. */
export interface ServiceErrorOptions extends SdkErrorOptions {
  /** HTTP status, when the server answered. */
  readonly status?: number | undefined;
  /** Whether trying again later may succeed (rate limits, 5xx, network resets). @default false */
  readonly retryable?: boolean | undefined;
}

/** An error from a remote service: carries the HTTP status and whether a retry may help. */
export class ServiceError extends SdkError {
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** Whether trying again later may succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: ServiceErrorOptions = {}) {
    super(code, message, options);
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

/** Talking to a container registry, or reading image sources (OCI layouts, docker archives). */
export class RegistryError extends ServiceError {}

/** Talking to a cluster: the Kubernetes API, SaltAPI or SSH. */
export class ClusterError extends ServiceError {}

/** Options of {@link PromqlError}. */
export interface PromqlErrorOptions extends ServiceErrorOptions {
  /** The expression refused. */
  readonly expr: string;
  /** Prometheus' `errorType` (`bad_data`, `execution`, `timeout`…), or `syntax` for the SDK's own check. */
  readonly errorType: string;
  /** 1-based position of the error in `expr`, when known. */
  readonly line?: number | undefined;
  readonly column?: number | undefined;
}

/**
 * A PromQL expression refused, before it was sent (code `PROMQL_SYNTAX`, the SDK's parser) or by
 * Prometheus (code `PROMQL_REJECTED`, with Prometheus' own message).
 */
export class PromqlError extends ClusterError {
  readonly expr: string;
  readonly errorType: string;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(code: string, message: string, options: PromqlErrorOptions) {
    super(code, message, options);
    this.expr = options.expr;
    this.errorType = options.errorType;
    this.line = options.line;
    this.column = options.column;
  }
}

/** Thrown when an operation is cancelled through its `AbortSignal`. */
export class AbortError extends SdkError {
  constructor(what = 'operation', options: SdkErrorOptions = {}) {
    super('ABORTED', `${what} was cancelled`, options);
  }
}

/** Keys whose value is a credential, as a whole word (not `passwd` in `/etc/passwd`, not `secretName`). */
const SECRET_KEYS = 'token|access_token|refresh_token|id_token|password|passwd|passphrase|secret|client_secret|api_key|apikey|private_key';

const SECRET_PATTERNS: readonly [RegExp, string][] = [
  // PEM private keys, whole.
  [/-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----[\s\S]*?-----END \1-----/g, '[redacted private key]'],
  // HTTP credentials.
  [/(authorization:\s*)(bearer|basic)\s+[^\s"',}]+/gi, '$1$2 [redacted]'],
  [/\b(bearer\s+)[A-Za-z0-9._~+/-]{16,}=*/gi, '$1[redacted]'],
  [/(x-auth-token:\s*)[^\s"',}]+/gi, '$1[redacted]'],
  // key: value, key=value, "key": "value" (JSON, YAML, query strings, headers). The key is a
  // whole word: not preceded by a letter, digit, "/", "." or "-", not followed by a letter.
  [new RegExp(`((?<![\\w/.-])"?(?:${SECRET_KEYS})"?\\s*[:=]\\s*"?)(?!\\[redacted)[^\\s"',}&]+`, 'gi'), '$1[redacted]'],
  // Docker config auth entries ("auth": "<base64 user:password>").
  [/("auth"\s*:\s*")[^"]+/g, '$1[redacted]'],
  [/([?&](?:token|access_token|password)=)[^&\s"']+/gi, '$1[redacted]'],
  // user:password@ in URLs.
  [/(\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1[redacted]@'],
  // JSON Web Tokens (Kubernetes service-account tokens, OIDC tokens) wherever they appear.
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '[redacted token]'],
  // GitHub, GitLab and similar prefixed tokens.
  [/\b(?:ghp|gho|ghu|ghs|ghr|github_pat|glpat)_[A-Za-z0-9_]{20,}/g, '[redacted token]'],
];

/**
 * Removes credentials from a text, and nothing else: bearer and basic credentials,
 * `X-Auth-Token` values, values of credential keys (`token`, `password`, `secret`... as whole
 * words, in JSON, YAML, query strings and headers), Docker `auth` entries, passwords in URLs,
 * PEM private keys, JSON Web Tokens and prefixed API tokens. Ordinary text that only looks
 * alike (`/etc/passwd:1:8`, `secretName: x`, "the token was refused") is kept.
 */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Where a file-system error happened, for {@link fromSystemError}. */
export interface SystemErrorContext {
  /** The file or folder at fault (defaults to the error's own path). */
  readonly file?: string | undefined;
  /** The field of the input that named it (`images[0].source.layers[0].files[1].from`, `--output`). */
  readonly field?: string | undefined;
  /** What was being done, e.g. "read the build input", "write the ISO". */
  readonly doing?: string | undefined;
}

const SYSTEM_ERRORS: Readonly<Record<string, { readonly code: string; readonly what: string; readonly hint: string }>> = {
  ENOENT: { code: 'FILE_NOT_FOUND', what: 'does not exist', hint: 'Check the path (relative paths are resolved from the solution folder), or create the file.' },
  ENOTDIR: { code: 'FILE_NOT_FOUND', what: 'does not exist (a part of the path is a file, not a folder)', hint: 'Check the path.' },
  EISDIR: { code: 'FILE_IS_DIRECTORY', what: 'is a folder, not a file', hint: 'Name a file; to copy a whole folder into an image, list its files one by one.' },
  EEXIST: { code: 'FILE_EXISTS', what: 'already exists and is in the way', hint: 'Choose another path, or remove what is there.' },
  ENOSPC: { code: 'DISK_FULL', what: 'cannot be written: no space left on the device', hint: 'Free space on that file system (`solution images prune` removes unused cached blobs) or write elsewhere; nothing half-written was left behind.' },
  EDQUOT: { code: 'DISK_FULL', what: 'cannot be written: disk quota exceeded', hint: 'Free space or raise the quota, or write elsewhere.' },
  EACCES: { code: 'PERMISSION_DENIED', what: 'is not accessible: permission denied', hint: 'Check the permissions of the file and of its folders.' },
  EPERM: { code: 'PERMISSION_DENIED', what: 'is not accessible: operation not permitted', hint: 'Check the permissions of the file and of its folders.' },
  EROFS: { code: 'READ_ONLY_FILE_SYSTEM', what: 'cannot be written: the file system is read-only', hint: 'Write to another folder.' },
  ELOOP: { code: 'SYMLINK_LOOP', what: 'is a symlink loop', hint: 'Fix the symlinks on that path.' },
  EMFILE: { code: 'TOO_MANY_OPEN_FILES', what: 'cannot be opened: too many open files', hint: 'Raise the limit (`ulimit -n`) or lower the concurrency.' },
};

/**
 * Turns a file-system error (`ENOENT`, `EISDIR`, `EEXIST`, `ENOSPC`, `EACCES`…) into a typed
 * {@link PackagingError} naming the file, the field that named it and what to do; returns
 * undefined for anything else (including errors that are already SDK errors).
 */
export function fromSystemError(err: unknown, context: SystemErrorContext = {}): SdkError | undefined {
  if (err instanceof SdkError || !(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException;
  const known = e.code ? SYSTEM_ERRORS[e.code] : undefined;
  if (!known) return undefined;
  const file = context.file ?? e.path ?? (e as { dest?: string }).dest;
  const subject = file ? `${file} ${known.what}` : known.what.replace(/^does/, 'a file does');
  const field = context.field ? `${context.field}: ` : '';
  const doing = context.doing ? ` (while trying to ${context.doing})` : '';
  return new PackagingError(known.code, `${field}${subject}${doing}`, { hint: known.hint, cause: err });
}

/** Throws an {@link AbortError} if `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new AbortError(what, { cause: signal.reason });
}
