import { describe, expect, it } from 'vitest';
import { goTemplateError } from '../../../src/solution/_go-template.js';

describe('Go text/template parse check (Prometheus alert templates)', () => {
  it.each([
    ['{{ $value | humanize ', /unclosed action/],
    ['{{ $labels.instance }', /unclosed action/],
    ['{{ humanise $value }}', /function "humanise" not defined/],
    ['{{ $val }}', /undefined variable "\$val"/],
    ['{{ if gt $value 1.0 }}high', /unexpected EOF/],
    ['{{ end }}', /unexpected \{\{end\}\}/],
    ['{{ $value | "x" }}', /non executable command in pipeline stage 2/],
    ['{{ printf "%s" "a }}', /unterminated quoted string/],
    ['{{ (humanize $value }}', /unclosed left paren/],
    ['{{ }}', /missing value for command/],
    ['{{ else }}', /unexpected \{\{else\}\}/],
    ['{{ break }}', /outside \{\{range\}\}/],
    ['{{/* comment */ x }}', /comment ends before closing delimiter/],
  ])('%s → %s', (text, message) => {
    expect(goTemplateError(text)).toMatch(message);
  });

  it.each([
    'plain text',
    '{{ $labels.instance }} is down',
    '{{ $value | humanizePercentage }} of requests fail',
    '{{ printf "%.2f" $value }}',
    '{{- if gt $value 0.5 -}} high {{- else if gt $value 0.2 }} medium {{ else }} low {{ end }}',
    '{{ range $i, $x := query "up" }}{{ $x.Labels.job }} {{ $i }}{{ end }}',
    '{{ with query "up" }}{{ . | first | value | humanize }}{{ end }}',
    '{{ $v := $value }}{{ $v = 2 }}{{ $v }}',
    '{{/* a comment */}}{{- /* trimmed */ -}}',
    '{{ define "x" }}y{{ end }}{{ template "x" . }}',
    '{{ index $labels "pod" }} on {{ $externalLabels.cluster }} ({{ $externalURL }})',
    '{{ reReplaceAll "(.*):.*" "$1" $labels.instance | toUpper }}',
    "{{ 'a' }} {{ 1e3 }} {{ -1 }} {{ 0x1F }} {{ true }} {{ `raw }}` }}",
  ])('%s parses', (text) => {
    expect(goTemplateError(text)).toBeUndefined();
  });
});
