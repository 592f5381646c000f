/** One HEAD of a manifest on the cluster registry (MetalK8s' static registry serves Docker v2s2 only). */

/** Whether `<registry>/v2/<id>/<image>/manifests/<tag>` answers, with its digest and what it said. */
export async function headManifest(
  registryUrl: string,
  id: string,
  image: string,
  tag: string,
  signal?: AbortSignal,
): Promise<{ served: boolean; digest?: string; detail: string }> {
  const url = `${registryUrl.replace(/\/+$/, '')}/v2/${id}/${image}/manifests/${encodeURIComponent(tag)}`;
  const timeout = AbortSignal.timeout(10_000);
  const res = await fetch(url, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  const digest = res.headers.get('docker-content-digest') ?? undefined;
  return { served: res.status === 200, ...(digest ? { digest } : {}), detail: `HTTP ${res.status} from ${url}` };
}
