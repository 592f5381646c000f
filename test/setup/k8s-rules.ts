/**
 * Kubernetes' own validation code as an oracle, for the rules the API server of the test control
 * plane cannot settle: `metav1.LabelSelectorAsSelector` (what Prometheus Operator runs on a
 * monitor's selector) and the validation of k8s.io/apimachinery v0.29, the Kubernetes of
 * MetalK8s 129 (environment variable names, quantities, label values).
 *
 * The small Go program of test/fixtures/k8s-rules is built once with the Go toolchain the
 * control-plane build uses (on PATH, or the one scripts/build-control-plane.sh fetched) and
 * cached in `$SDK_CACHE_DIR/bin/k8s-rules-<hash of its sources>`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../fixtures/k8s-rules/', import.meta.url));
const cache = process.env.SDK_CACHE_DIR ?? '/var/cache/metalk8s-sdk';

function goBinary(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const fetched = join(cache, 'go');
  for (const d of existsSync(fetched) ? readdirSync(fetched) : []) {
    const go = join(fetched, d, 'bin', 'go');
    if (existsSync(go)) return go;
  }
  throw new Error('no Go toolchain: put go on PATH, or run scripts/build-control-plane.sh, which fetches one into $SDK_CACHE_DIR/go');
}

/** Path of the built checker, building it on first use. */
export function k8sRulesBinary(): string {
  const hash = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(join(src, f)));
  const bin = join(cache, 'bin', `k8s-rules-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  const work = mkdtempSync(join(tmpdir(), 'k8s-rules-'));
  try {
    cpSync(src, work, { recursive: true });
    execFileSync(goBinary(), ['build', '-o', join(work, 'k8s-rules'), '.'], {
      cwd: work,
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod -buildvcs=false', GOTOOLCHAIN: 'local' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    mkdirSync(join(cache, 'bin'), { recursive: true });
    renameSync(join(work, 'k8s-rules'), bin);
    return bin;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A question for the checker. */
export type K8sQuestion =
  | { readonly kind: 'selector'; readonly selector: unknown }
  | { readonly kind: 'envName' | 'quantity' | 'labelValue' | 'labelKey'; readonly value: string };

/** Kubernetes' error for each question ('' when valid), in order. */
export function askKubernetes(questions: readonly K8sQuestion[]): string[] {
  const input = questions.map((q) => JSON.stringify(q)).join('\n');
  const out = execFileSync(k8sRulesBinary(), { input: `${input}\n`, encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { error: string }).error);
}
