/** Name rules from MetalK8s and Kubernetes, in one place. */

/** MetalK8s' Solution name rule (`DNS_LABEL_NAME_RFC1123_RE` in metalk8s_solutions.py). */
export const SOLUTION_NAME_RE = /^(?!-)[0-9a-z-]{1,63}(?<!-)$/;

/** Codes of the solution-name rule, the same in `validateSolution`, `verify` and `import`. */
export type SolutionNameCode = 'SOLUTION_NAME_INVALID' | 'SOLUTION_NAME_RESERVED';

/** One broken part of the solution-name rule. */
export interface SolutionNameProblem {
  readonly code: SolutionNameCode;
  /** What is wrong, starting with the quoted name. */
  readonly message: string;
  readonly hint: string;
}

/**
 * The solution-name rule of MetalK8s, in one place: a DNS label (`SOLUTION_NAME_RE`), not starting
 * with `metalk8s-` (MetalK8s skips every archive mounted under `/srv/scality/metalk8s-*`). Every
 * broken part, in that order; none when the name is good.
 */
export function solutionNameProblems(name: string): SolutionNameProblem[] {
  const problems: SolutionNameProblem[] = [];
  if (!SOLUTION_NAME_RE.test(name)) {
    problems.push({
      code: 'SOLUTION_NAME_INVALID',
      message: `"${name}" is not a valid solution name: not a DNS label (RFC 1123)`,
      hint: 'Use 1-63 lowercase letters, digits and dashes, not starting or ending with a dash, e.g. "my-solution".',
    });
  }
  if (name.startsWith('metalk8s-')) {
    problems.push({
      code: 'SOLUTION_NAME_RESERVED',
      message: `"${name}" starts with "metalk8s-", which MetalK8s reserves for its own archives`,
      hint: 'Pick a name that does not start with "metalk8s-": MetalK8s skips every archive mounted under /srv/scality/metalk8s-*.',
    });
  }
  return problems;
}
/** Characters MetalK8s can carry in `<name>-<version>` (mount path, pod volume names, repository path). */
export const VERSION_RE = /^[0-9a-z][0-9a-z.-]*$/;
/** `<name>-<version>` must fit a pod volume name once prefixed with `registry-` (63 - 9). */
export const MAX_ID_LENGTH = 54;
/** RFC 1123 DNS label (namespaces, Services, container names). */
export const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 DNS subdomain (most Kubernetes object names). */
export const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** An image name in the archive: one component of a Docker repository name (MetalK8s lays images out as images/<name>/<tag>). */
export const IMAGE_NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A Docker tag. */
export const IMAGE_TAG_RE = /^[\w][\w.-]{0,127}$/;
/** Prometheus label name. */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prometheus duration, e.g. `5m`, `1h30m`. */
export const PROM_DURATION_RE = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/;
/** Kubernetes CRD kind: UpperCamelCase. */
export const KIND_RE = /^[A-Z][A-Za-z0-9]*$/;
/** Kubernetes API version name, e.g. `v1`, `v1alpha1`, `v2beta3`. */
export const API_VERSION_NAME_RE = /^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$/;
/** A platform for images: `os/arch[/variant]`. */
export const PLATFORM_RE = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
/** Jinja delimiters that MetalK8s would interpret in CRD files and the registry snippet. */
export const JINJA_RE = /\{\{|\{%|\{#/;
