/**
 * Prometheus' answer envelope (`{ status, data, errorType, error, warnings }`): its data, or the
 * typed error it stands for. One reading of it for `cluster.metrics` (requests through the
 * kube-apiserver proxy or the ingress) and for storage's read-only inventory (a plain URL).
 * Private to the SDK.
 */
import { ClusterError, PromqlError } from '../errors.js';

/** What is needed of an HTTP answer. */
export interface PrometheusHttpAnswer {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

interface PromEnvelope {
  status?: 'success' | 'error';
  data?: unknown;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/**
 * The data and warnings of a successful answer to `path`.
 *
 * @throws `PromqlError` `PROMQL_REJECTED` when Prometheus refused the expression `expr`;
 *   `ClusterError` `PROMETHEUS_REQUEST_FAILED` for any other failure (retryable on 5xx and 429).
 */
export function prometheusData(res: PrometheusHttpAnswer, path: string, expr: string | undefined): { data: unknown; warnings: string[] } {
  const env = res.json as PromEnvelope | undefined;
  if (res.status < 300 && env?.status === 'success') return { data: env.data, warnings: env.warnings ?? [] };
  const status = res.json as { kind?: string; message?: string } | undefined;
  const message = env?.error ?? (status?.kind === 'Status' && status.message ? status.message : res.text.trim().slice(0, 300));
  const errorType = env?.errorType ?? `http_${res.status}`;
  if (expr !== undefined && (errorType === 'bad_data' || errorType === 'execution' || errorType === 'timeout' || errorType === 'canceled')) {
    throw new PromqlError('PROMQL_REJECTED', `Prometheus refused ${JSON.stringify(expr)}: ${message}`, {
      hint: errorType === 'timeout' ? 'Narrow the query (shorter range, fewer series) or raise its timeout.' : 'Fix the expression as Prometheus says.',
      status: res.status,
      expr,
      errorType,
      retryable: errorType === 'timeout',
    });
  }
  throw new ClusterError('PROMETHEUS_REQUEST_FAILED', `Prometheus ${path}: HTTP ${res.status} ${errorType}: ${message || 'no answer'}`, {
    hint: res.status === 401 || res.status === 403 ? 'Check the credentials of the kubeconfig user (services/proxy in metalk8s-monitoring).' : 'See Prometheus\' message above.',
    status: res.status,
    retryable: res.status >= 500 || res.status === 429,
  });
}
