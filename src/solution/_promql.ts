/** PromQL syntax check, in process, with the Prometheus team's own grammar. */
import { parser } from '@prometheus-io/lezer-promql';

/** A syntax error in a PromQL expression: 1-based line and column. */
export interface PromqlSyntaxError {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

function position(expr: string, offset: number): { line: number; column: number } {
  const before = expr.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** Returns the first syntax error of `expr`, or `undefined` when it parses. */
export function checkPromql(expr: string): PromqlSyntaxError | undefined {
  if (expr.trim() === '') return { line: 1, column: 1, message: 'empty expression' };
  const tree = parser.parse(expr);
  let found: PromqlSyntaxError | undefined;
  tree.iterate({
    enter(node) {
      if (found) return false;
      if (node.type.isError) {
        const { line, column } = position(expr, node.from);
        const near = expr.slice(node.from, node.from + 12);
        found = {
          line,
          column,
          message: near ? `syntax error near ${JSON.stringify(near)}` : 'unexpected end of expression',
        };
        return false;
      }
      return undefined;
    },
  });
  return found;
}
