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

const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/(authorization:\s*)(bearer|basic)\s+[^\s"',}]+/gi, '$1$2 [redacted]'],
  [/(x-auth-token:\s*)[^\s"',}]+/gi, '$1[redacted]'],
  [/("?(?:token|password|passwd|secret|access_token|refresh_token|auth)"?\s*[:=]\s*"?)[^\s"',}&]+/gi, '$1[redacted]'],
  [/([?&](?:token|access_token|password)=)[^&\s"']+/gi, '$1[redacted]'],
  [/(\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1[redacted]@'],
];

/**
 * Removes credentials from a text: bearer and basic credentials, `X-Auth-Token` values,
 * `token=`/`password=` pairs (JSON, query strings, headers) and passwords in URLs.
 */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Throws an {@link AbortError} if `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new AbortError(what, { cause: signal.reason });
}
