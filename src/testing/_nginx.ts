/** nginx configuration for a static registry on 127.0.0.1, run as root with everything in `dir`. */

/**
 * The `nginx.conf` text: one server on `port` including each of `includes`; HTTPS with `tls`
 * (PEM file paths).
 */
export function staticRegistryNginxConf(dir: string, port: number, includes: readonly string[], tls?: { readonly certFile: string; readonly keyFile: string }): string {
  const listen = tls
    ? `    listen 127.0.0.1:${port} ssl;\n    ssl_certificate ${tls.certFile};\n    ssl_certificate_key ${tls.keyFile};`
    : `    listen 127.0.0.1:${port};`;
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  server {
${listen}
${includes.map((i) => `    include ${i};`).join('\n')}
  }
}
`;
}

/** The temporary folders `staticRegistryNginxConf` points nginx at, relative to `dir`. */
export const NGINX_TEMP_DIRS = ['tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi'] as const;
