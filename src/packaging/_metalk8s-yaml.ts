/**
 * What MetalK8s' YAML loading would make of a file, checked with the `yaml` library: MetalK8s
 * reads `manifest.yaml`, `_crd.yaml` files and `role.yaml` with PyYAML's safe loader
 * (`yaml.safe_load` / `salt.utils.yaml.safe_load`, YAML 1.1). Whatever that loader refuses, or
 * reads differently from this SDK, is reported: tags outside the YAML 1.1 core set
 * (`!!python/object…`, local `!tags`), characters PyYAML's reader refuses, duplicate keys (PyYAML
 * keeps the last silently), several documents where one is read. Pure.
 *
 * @module
 */
import { isMap, isScalar, parseAllDocuments, visit } from 'yaml';

/** The tags PyYAML's SafeLoader constructs (YAML 1.1 types). */
const SAFE_TAGS = new Set(
  ['null', 'bool', 'int', 'float', 'str', 'seq', 'map', 'binary', 'timestamp', 'omap', 'pairs', 'set', 'merge', 'value'].map((t) => `tag:yaml.org,2002:${t}`),
);

/** Characters PyYAML's reader refuses ("special characters are not allowed"). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused.
const NON_PRINTABLE = /[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

/**
 * Problems MetalK8s' loader would have with `text`; empty when it reads it as this SDK does.
 * `single`: the file is read with `safe_load` (exactly one document).
 */
export function metalk8sYamlProblems(text: string, single: boolean): string[] {
  const problems: string[] = [];
  const np = NON_PRINTABLE.exec(text.replace(/^\uFEFF/, ''));
  if (np) {
    const cp = np[0].codePointAt(0) ?? 0;
    problems.push(`line ${lineOf(text, np.index)} holds the character U+${cp.toString(16).toUpperCase().padStart(4, '0')}, which MetalK8s' YAML reader (PyYAML) refuses`);
  }
  const docs = parseAllDocuments(text, { version: '1.1' });
  const list = (Array.isArray(docs) ? docs : [docs]).filter((d) => d.errors.length > 0 || (d.contents !== null && d.contents !== undefined));
  for (const d of list) {
    for (const e of d.errors) {
      if (e.code === 'DUPLICATE_KEY') {
        problems.push(`line ${e.linePos?.[0]?.line ?? '?'}: a key appears twice in one mapping; MetalK8s' loader silently keeps the last value`);
      } else problems.push(`not valid YAML: ${e.message.split('\n')[0]}`);
    }
    visit(d, {
      Node(_, node) {
        const tag = node.tag;
        if (tag !== undefined && !SAFE_TAGS.has(tag)) {
          const where = node.range ? `line ${lineOf(text, node.range[0])}: ` : '';
          const shown = tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
          problems.push(`${where}the tag ${shown} is refused by MetalK8s' safe YAML loader ("could not determine a constructor")`);
        }
        // Merge keys and anchors are read alike; non-scalar keys are not (PyYAML refuses
        // unhashable keys, this library stringifies them).
        if (isMap(node)) {
          for (const pair of node.items) {
            if (pair.key !== null && !isScalar(pair.key)) problems.push(`${node.range ? `line ${lineOf(text, node.range[0])}: ` : ''}a mapping key is itself a list or a mapping, which MetalK8s' loader cannot read`);
          }
        }
      },
    });
  }
  if (single && list.length > 1) problems.push(`holds ${list.length} YAML documents: MetalK8s reads it with safe_load, which expects exactly one`);
  return problems;
}
