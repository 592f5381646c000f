/**
 * Preflight of a host before `deploy_node`, over SSH from where the SDK runs: what
 * `metalk8s_checks.node` checks (platform-reference.md §B.3: packages, services, ports,
 * containerd filesystem, route to the Service CIDR) plus what deploy_node needs first (SSH,
 * root or sudo, an address in each MetalK8s network) and what embedded-cluster checks (clock,
 * name resolution, the OS). Each check gives pass, warn or fail with the evidence read on the
 * host. The commands only read; nothing on the host changes.
 *
 * The parsers are pure and exported for tests; the SSH transport is ssh2, an optional
 * dependency loaded on the first preflight.
 */
import { ClusterError, throwIfAborted } from '../errors.js';
import { cidrInside, inCidr, type MetalK8sRole } from './_node-model.js';

/** Outcome of one check. */
export type PreflightStatus = 'pass' | 'warn' | 'fail';

/** One preflight check and what was seen. */
export interface PreflightCheck {
  /** Stable id: `ssh`, `privileges`, `os`, `control-plane-ip`, `workload-plane-ip`, `packages`, `services`, `ports`, `containerd-fs`, `service-route`, `clock`, `dns`. */
  readonly id: string;
  readonly status: PreflightStatus;
  /** What the check saw on the host (command output, addresses, versions). */
  readonly evidence: string;
  /** What to do, for warn and fail. */
  readonly hint?: string | undefined;
}

/** MetalK8s' `networks` pillar, as far as preflight reads it. */
export interface NetworksPillar {
  readonly controlPlane: readonly string[];
  readonly workloadPlane: readonly string[];
  /** Service CIDR. */
  readonly service: string | undefined;
}

/** Ports MetalK8s components listen on, per role, with the process expected on each. */
export type ListenersPerRole = Readonly<Partial<Record<MetalK8sRole, Readonly<Record<string, string>>>>>;

/**
 * Ports the MetalK8s 129 components of each role listen on (kubelet, apiserver-proxy,
 * kube-proxy, node-exporter on every node; etcd; the API server, scheduler, controller-manager
 * and control-plane ingress on masters; Salt and the repositories on the bootstrap node). A
 * port must be free, or held by the process named (a redeploy). Override with `listeners`.
 */
export const DEFAULT_LISTENERS: ListenersPerRole = {
  node: { '10250': 'kubelet', '7443': 'nginx', '10249': 'kube-proxy', '10256': 'kube-proxy', '9100': 'node_exporter' },
  etcd: { '2379': 'etcd', '2380': 'etcd' },
  master: { '6443': 'kube-apiserver', '10257': 'kube-controller', '10259': 'kube-scheduler', '8443': 'nginx' },
  bootstrap: { '4505': 'salt-master', '4506': 'salt-master', '4507': 'salt-api', '8080': 'nginx' },
  infra: { '80': 'nginx', '443': 'nginx' },
};

/** What preflight checks, with MetalK8s' defaults (`salt/metalk8s/defaults.yaml`). */
export interface PreflightSettings {
  /** @default ['docker', 'docker-ce', 'containerd.io'] */
  readonly conflictingPackages?: readonly string[] | undefined;
  /** Must be stopped and disabled. @default ['firewalld'] */
  readonly conflictingServices?: readonly string[] | undefined;
  /** @default {@link DEFAULT_LISTENERS} */
  readonly listeners?: ListenersPerRole | undefined;
  /** @default '/var/lib/containerd' */
  readonly containerdPath?: string | undefined;
  /** Skew above this warns. @default 1000 */
  readonly clockWarnMs?: number | undefined;
  /** Skew above this fails. @default 60000 */
  readonly clockFailMs?: number | undefined;
  /** Names the host must resolve. @default its own host name, and the Node name when no ssh-host is set */
  readonly resolveNames?: readonly string[] | undefined;
  /** Clock of the machine running the SDK (for tests). @default Date.now */
  readonly now?: (() => number) | undefined;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Reads the `networks` pillar (`control_plane.cidr` and `workload_plane.cidr` may be lists). */
export function parseNetworksPillar(raw: unknown): NetworksPillar | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { control_plane?: { cidr?: unknown }; workload_plane?: { cidr?: unknown }; service?: unknown };
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
  const controlPlane = list(r.control_plane?.cidr);
  const workloadPlane = list(r.workload_plane?.cidr);
  if (controlPlane.length === 0 && workloadPlane.length === 0) return undefined;
  return { controlPlane, workloadPlane, service: typeof r.service === 'string' ? r.service : undefined };
}

/** IPv4 addresses from `ip -o -4 addr show`. */
export function parseIpAddr(out: string): { dev: string; ip: string }[] {
  const found: { dev: string; ip: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\//.exec(line);
    if (m?.[1] && m[2]) found.push({ dev: m[1], ip: m[2] });
  }
  return found;
}

/** The check of an address inside one MetalK8s network. */
export function networkCheck(id: 'control-plane-ip' | 'workload-plane-ip', cidrs: readonly string[], addrs: readonly { dev: string; ip: string }[]): PreflightCheck {
  const name = id === 'control-plane-ip' ? 'control-plane' : 'workload-plane';
  if (cidrs.length === 0) return { id, status: 'fail', evidence: `the networks pillar has no ${name} CIDR`, hint: 'Check /etc/metalk8s/bootstrap.yaml on the bootstrap node.' };
  const hit = addrs.find((a) => cidrs.some((c) => inCidr(a.ip, c)));
  const seen = addrs.map((a) => `${a.dev} ${a.ip}`).join(', ') || 'no IPv4 address';
  if (hit) return { id, status: 'pass', evidence: `${hit.dev} ${hit.ip} is in ${cidrs.join(', ')}` };
  return {
    id,
    status: 'fail',
    evidence: `no address in ${cidrs.join(', ')}; the host has ${seen}`,
    hint: `deploy_node's grains would fail ("No ${name === 'control-plane' ? 'control-plane' : 'workload-plane'} network interface present on the host"): give the host an address in ${cidrs.join(', ')}.`,
  };
}

/** Whether a route (or the default route) covers `cidr`, from `ip -j route show`. */
export function routeCheck(serviceCidr: string | undefined, routesJson: string): PreflightCheck {
  const id = 'service-route';
  if (!serviceCidr) return { id, status: 'warn', evidence: 'the networks pillar has no service CIDR', hint: 'Check networks.service in the bootstrap configuration.' };
  let routes: { dst?: string; dev?: string; gateway?: string }[];
  try {
    routes = JSON.parse(routesJson || '[]') as typeof routes;
  } catch {
    return { id, status: 'fail', evidence: `cannot read the routes: ${routesJson.slice(0, 200)}`, hint: 'Install iproute2 (ip) on the host.' };
  }
  const cover = routes.find((r) => r.dst === 'default' || (r.dst?.includes('/') === true && cidrInside(serviceCidr, r.dst)));
  if (cover) return { id, status: 'pass', evidence: `route ${cover.dst}${cover.gateway ? ` via ${cover.gateway}` : ''} dev ${cover.dev ?? '?'} covers ${serviceCidr}` };
  return {
    id,
    status: 'fail',
    evidence: `no route covers ${serviceCidr}; routes: ${routes.map((r) => r.dst).join(', ') || 'none'}`,
    hint: 'kube-proxy needs a route for the Service CIDR: add a default route, or a route covering it.',
  };
}

/** Listeners from `ss -Hltnup`: port → processes holding it. */
export function parseListeners(out: string): Map<string, { address: string; process: string }[]> {
  const byPort = new Map<string, { address: string; process: string }[]>();
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    const local = cols[4] ?? '';
    const port = local.slice(local.lastIndexOf(':') + 1);
    const address = local.slice(0, local.lastIndexOf(':'));
    const proc = /users:\(\("([^"]+)"/.exec(line)?.[1] ?? '?';
    const list = byPort.get(port) ?? [];
    list.push({ address, process: proc });
    byPort.set(port, list);
  }
  return byPort;
}

/** The ports check: every MetalK8s port of the roles free, or held by the expected process. */
export function portsCheck(roles: readonly MetalK8sRole[], listeners: ListenersPerRole, ssOut: string): PreflightCheck {
  const id = 'ports';
  const held = parseListeners(ssOut);
  const expected: Record<string, string> = {};
  for (const r of new Set<MetalK8sRole>(['node', ...roles])) Object.assign(expected, listeners[r] ?? {});
  const conflicts: string[] = [];
  const ours: string[] = [];
  for (const [port, proc] of Object.entries(expected).sort(([a], [b]) => Number(a) - Number(b))) {
    for (const h of held.get(port) ?? []) {
      if (h.process.startsWith(proc) || proc.startsWith(h.process)) ours.push(`${port} (${h.process})`);
      else conflicts.push(`${h.address}:${port} is held by "${h.process}", MetalK8s needs it for ${proc}`);
    }
  }
  const checked = Object.keys(expected).sort((a, b) => Number(a) - Number(b)).join(', ');
  if (conflicts.length > 0) return { id, status: 'fail', evidence: conflicts.join('; '), hint: 'Stop the processes named, or move them to other ports.' };
  return { id, status: 'pass', evidence: `ports ${checked} are free${ours.length ? ` or held by MetalK8s: ${ours.join(', ')}` : ''}` };
}

/** Checks `xfs_info` output: `ftype=1` required. */
export function containerdFsCheck(path: string, fsType: string, xfsInfo: string): PreflightCheck {
  const id = 'containerd-fs';
  if (fsType !== 'xfs') return { id, status: 'pass', evidence: `${path} is on ${fsType || 'an unknown filesystem'}, not xfs: no ftype requirement` };
  const ftype = /ftype=(\d)/.exec(xfsInfo)?.[1];
  if (ftype === '1') return { id, status: 'pass', evidence: `${path} is on xfs with ftype=1` };
  return {
    id,
    status: 'fail',
    evidence: ftype === undefined ? `${path} is on xfs; xfs_info said: ${xfsInfo.trim().slice(0, 200) || 'nothing'}` : `${path} is on xfs with ftype=${ftype}`,
    hint: 'containerd (overlayfs) needs d_type: recreate that filesystem with mkfs.xfs -n ftype=1, or put /var/lib/containerd elsewhere.',
  };
}

/** Clock skew between the host and the machine running the SDK. */
export function clockCheck(remoteMs: number, localBefore: number, localAfter: number, warnMs: number, failMs: number): PreflightCheck {
  const id = 'clock';
  const skew = remoteMs - (localBefore + localAfter) / 2;
  const text = `host clock is ${Math.abs(skew) < 1 ? 'within 1 ms of' : `${Math.round(Math.abs(skew))} ms ${skew > 0 ? 'ahead of' : 'behind'}`} this machine (round trip ${Math.round(localAfter - localBefore)} ms)`;
  if (Math.abs(skew) > failMs) return { id, status: 'fail', evidence: text, hint: 'Synchronise the clocks (chrony or NTP): certificates and etcd need close clocks.' };
  if (Math.abs(skew) > warnMs) return { id, status: 'warn', evidence: text, hint: 'Synchronise the clocks with chrony or NTP.' };
  return { id, status: 'pass', evidence: text };
}

/** MetalK8s 129 nodes run RHEL, Rocky, Alma or CentOS 8 (`map.jinja` maps only EL8). */
export function osCheck(osRelease: string): PreflightCheck {
  const id = 'os';
  const field = (k: string): string => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(osRelease)?.[1] ?? '';
  const pretty = field('PRETTY_NAME') || field('NAME') || 'unknown';
  const family = `${field('ID')} ${field('ID_LIKE')}`;
  const major = field('VERSION_ID').split('.')[0];
  if (/\b(rhel|centos|rocky|almalinux|fedora)\b/.test(family) && major === '8') return { id, status: 'pass', evidence: pretty };
  return { id, status: 'warn', evidence: pretty, hint: 'MetalK8s 129 installs packages only for RHEL-family 8 hosts; the deploy will fail at "Install python36" or the highstate elsewhere.' };
}

type Exec = (command: string) => Promise<{ code: number; stdout: string; stderr: string }>;

async function connectSsh(target: { host: string; port: number; user: string; privateKey: string | Buffer }, signal?: AbortSignal): Promise<{ exec: Exec; close: () => void }> {
  // ssh2 is an optional dependency, loaded by the first preflight.
  const ssh = await import('./_sftp.js').catch((cause: unknown) => {
    throw new ClusterError('SSH_CLIENT_MISSING', 'preflight needs the optional dependency ssh2, which is not installed', {
      hint: 'Install it next to the SDK (npm install ssh2).',
      cause,
    });
  });
  const client = await ssh.sshConnect(target, signal);
  return { exec: (command) => ssh.sshExec(client, command), close: () => client.end() };
}

/** What {@link runPreflight} needs. */
export interface PreflightTarget {
  readonly node: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly sudo: boolean;
  readonly privateKey: string | Buffer;
  readonly roles: readonly MetalK8sRole[];
  /** salt-ssh reaches the host by the Node name (no ssh-host annotation), so it must resolve. */
  readonly nodeNameMustResolve: boolean;
  /** The `networks` pillar, or why it could not be read. */
  readonly networks: NetworksPillar | string;
}

/** Runs every check over one SSH connection. Never throws for a failed check. */
export async function runPreflight(t: PreflightTarget, s: PreflightSettings, signal?: AbortSignal, onCheck?: (c: PreflightCheck) => void): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  const add = (c: PreflightCheck): void => {
    checks.push(c);
    onCheck?.(c);
  };
  const now = s.now ?? Date.now;
  let conn: Awaited<ReturnType<typeof connectSsh>>;
  try {
    conn = await connectSsh({ host: t.host, port: t.port, user: t.user, privateKey: t.privateKey }, signal);
  } catch (err) {
    throwIfAborted(signal, 'preflight');
    if (err instanceof ClusterError) throw err;
    add({
      id: 'ssh',
      status: 'fail',
      evidence: `${t.user}@${t.host}:${t.port}: ${(err as Error).message}`,
      hint: 'Check the ssh-host/port/user annotations of the Node and that the key is authorised on the host; the other checks need SSH.',
    });
    return checks;
  }
  try {
    add({ id: 'ssh', status: 'pass', evidence: `logged in as ${t.user}@${t.host}:${t.port}` });
    const uid = (await conn.exec('id -u')).stdout.trim();
    const root = uid === '0';
    let sudoOk = false;
    if (root) add({ id: 'privileges', status: 'pass', evidence: `${t.user} is root (uid 0)` });
    else if (!t.sudo) {
      add({ id: 'privileges', status: 'fail', evidence: `${t.user} is uid ${uid}, and the Node does not ask for sudo`, hint: 'Declare the node with ssh.sudo: true, or log in as root.' });
    } else {
      const r = await conn.exec('sudo -n true');
      sudoOk = r.code === 0;
      add(
        sudoOk
          ? { id: 'privileges', status: 'pass', evidence: `${t.user} (uid ${uid}) may run sudo without a password` }
          : { id: 'privileges', status: 'fail', evidence: `sudo -n true: exit ${r.code}: ${r.stderr.trim().slice(0, 200)}`, hint: `Allow ${t.user} password-less sudo (salt-ssh cannot type a password).` },
      );
    }
    const sudo = !root && sudoOk ? 'sudo -n ' : '';
    add(osCheck((await conn.exec('cat /etc/os-release')).stdout));

    const addrs = parseIpAddr((await conn.exec('ip -o -4 addr show')).stdout);
    if (typeof t.networks === 'string') {
      for (const id of ['control-plane-ip', 'workload-plane-ip'] as const) add({ id, status: 'fail', evidence: t.networks, hint: 'The SDK reads the networks from the bootstrap minion\'s pillar (pillar.get networks).' });
    } else {
      add(networkCheck('control-plane-ip', t.networks.controlPlane, addrs));
      add(networkCheck('workload-plane-ip', t.networks.workloadPlane, addrs));
    }

    const pkgs = s.conflictingPackages ?? ['docker', 'docker-ce', 'containerd.io'];
    const pkgScript = pkgs
      .map((p) => `if command -v rpm >/dev/null 2>&1; then v=$(rpm -q --qf '%{VERSION}' ${q(p)} 2>/dev/null) || v=; else v=$(dpkg-query -W -f='\${db:Status-Status} \${Version}' ${q(p)} 2>/dev/null | sed -n 's/^installed //p'); fi; echo ${q(p)}"\t$v"`)
      .join('; ');
    const installed = pkgs.length === 0 ? [] : (await conn.exec(pkgScript)).stdout.split('\n').map((l) => l.split('\t')).filter(([, v]) => v && v.trim() !== '');
    add(
      installed.length > 0
        ? { id: 'packages', status: 'fail', evidence: `installed: ${installed.map(([p, v]) => `${p} ${v}`).join(', ')}`, hint: 'MetalK8s installs its own containerd: remove these packages first.' }
        : { id: 'packages', status: 'pass', evidence: `none of ${pkgs.join(', ')} is installed` },
    );

    const svcs = s.conflictingServices ?? ['firewalld'];
    const svcScript = svcs
      .map((sv) => `if [ -d /run/systemd/system ]; then a=$(systemctl is-active ${q(sv)} 2>/dev/null); e=$(systemctl is-enabled ${q(sv)} 2>/dev/null); else if pgrep -x ${q(sv)} >/dev/null; then a=active; else a=inactive; fi; e=unknown; fi; echo ${q(sv)}"\t$a\t$e"`)
      .join('; ');
    const svcLines = svcs.length === 0 ? [] : (await conn.exec(svcScript)).stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
    const bad = svcLines.filter(([, a, e]) => a === 'active' || e === 'enabled');
    add(
      bad.length > 0
        ? { id: 'services', status: 'fail', evidence: bad.map(([sv, a, e]) => `${sv}: ${a}${e && e !== 'unknown' ? `, ${e}` : ''}`).join('; '), hint: `Stop and disable ${bad.map(([sv]) => sv).join(', ')} (systemctl disable --now).` }
        : { id: 'services', status: 'pass', evidence: svcLines.map(([sv, a, e]) => `${sv}: ${a || 'not found'}${e && e !== 'unknown' ? `, ${e || 'not installed'}` : ''}`).join('; ') || 'none to check' },
    );

    const ss = await conn.exec(`${sudo}ss -Hltnup`);
    add(ss.code === 0 ? portsCheck(t.roles, s.listeners ?? DEFAULT_LISTENERS, ss.stdout) : { id: 'ports', status: 'warn', evidence: `ss: exit ${ss.code}: ${ss.stderr.trim().slice(0, 200)}`, hint: 'Install iproute2 (ss) on the host.' });

    const cpath = s.containerdPath ?? '/var/lib/containerd';
    const fs = await conn.exec(`p=${q(cpath)}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; t=$(stat -f -c %T "$p"); echo "$p"; echo "$t"; if [ "$t" = xfs ]; then ${sudo}xfs_info "$p" 2>&1; fi`);
    const [where = cpath, fsType = '', ...info] = fs.stdout.split('\n');
    add(containerdFsCheck(where, fsType.trim(), info.join('\n')));

    const routes = await conn.exec('ip -4 -j route show');
    add(routeCheck(typeof t.networks === 'string' ? undefined : t.networks.service, routes.stdout));

    const before = now();
    const date = await conn.exec('date +%s%N');
    const after = now();
    const remote = Number(date.stdout.trim().slice(0, -6));
    add(Number.isFinite(remote) ? clockCheck(remote, before, after, s.clockWarnMs ?? 1000, s.clockFailMs ?? 60_000) : { id: 'clock', status: 'warn', evidence: `date said: ${date.stdout.trim()}` });

    const hostname = (await conn.exec('hostname')).stdout.trim();
    const names = s.resolveNames ?? [...new Set([hostname, ...(t.nodeNameMustResolve ? [t.node] : [])].filter(Boolean))];
    const unresolved: string[] = [];
    const resolved: string[] = [];
    for (const n of names) {
      const r = await conn.exec(`getent ahostsv4 ${q(n)} | head -n 1`);
      const ip = r.stdout.trim().split(/\s+/)[0];
      if (r.code === 0 && ip) resolved.push(`${n} → ${ip}`);
      else unresolved.push(n);
    }
    add(
      unresolved.length > 0
        ? { id: 'dns', status: 'fail', evidence: `the host cannot resolve ${unresolved.join(', ')}${resolved.length ? `; resolved ${resolved.join(', ')}` : ''}`, hint: 'Add the names to DNS or /etc/hosts on the host.' }
        : { id: 'dns', status: 'pass', evidence: resolved.join(', ') || 'no name to resolve' },
    );
    return checks;
  } finally {
    conn.close();
  }
}

/** Thrown when preflight cannot even start (no key to log in with). */
export function noSshKey(node: string): ClusterError {
  return new ClusterError('PREFLIGHT_NO_SSH_KEY', `no SSH key to reach node ${node} from here`, {
    hint: 'Pass ssh.privateKey to preflight() (or connect({ ssh })), or --ssh-key on the command line: the key in the Node annotation lives on the bootstrap node.',
  });
}
