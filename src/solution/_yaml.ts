/**
 * YAML as Kubernetes reads it. Kubernetes' sigs.k8s.io/yaml is YAML 1.1, where `yes`, `on`, `y`
 * and dates are not strings: emitting YAML 1.1 makes the `yaml` library quote them.
 */
import { Document } from 'yaml';

/** One YAML document, YAML 1.1-safe, no line folding. */
export function toYaml(value: unknown): string {
  return new Document(value, { version: '1.1' }).toString({ lineWidth: 0 });
}

/** Several documents separated by `---`. */
export function toYamlDocuments(values: readonly unknown[]): string {
  return values.map((v) => toYaml(v)).join('---\n');
}
