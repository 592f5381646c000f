/**
 * The bootstrap node's files as the emulator keeps them in its state directory: the emulated
 * `/etc/metalk8s/solutions.yaml` (metalk8s-reference.md §2.1), the mounts of Solution ISOs (an
 * ISO is "mounted" by extracting its Rock Ridge tree with the SDK's ISO reader: CI runs
 * unprivileged containers), `manifest_from_iso` and `list_available`.
 */
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { isRecord } from '../_record.js';
import { openIso } from '../packaging/iso/index.js';
import { API, type AvailableVersion } from './_environment-objects.js';

const NAME_RE = /^(?!-)[0-9a-z-]{1,63}(?<!-)$/;

/** A Salt `CommandExecutionError`: the local client answers `ERROR: <message>` with retcode 1. */
export class CommandExecutionError extends Error {}

/** The emulated `/etc/metalk8s/solutions.yaml`. */
export interface SolutionsConfig {
  apiVersion: string;
  kind: string;
  archives: string[];
  active: Record<string, string>;
}

/** One mounted Solution ISO. */
export interface Mounted {
  readonly id: string;
  readonly archive: string;
  readonly mountpoint: string;
}

/** The bootstrap node's Solution files, under one state directory. */
export interface BootstrapFiles {
  /** Path of the emulated `/etc/metalk8s/solutions.yaml`. */
  readonly configPath: string;
  /** The emulated `/srv/scality`, where ISOs are mounted. */
  readonly srv: string;
  readConfig(create: boolean): Promise<SolutionsConfig>;
  writeConfig(cfg: SolutionsConfig): Promise<void>;
  readMounts(): Promise<Mounted[]>;
  writeMounts(mounts: readonly Mounted[]): Promise<void>;
  manifestFromIso(archive: string): Promise<{ name: string; version: string; raw: Record<string, unknown> }>;
  mountIso(archive: string, mountpoint: string): Promise<void>;
  listAvailable(): Promise<AvailableVersion[]>;
  mountpointOf(id: string): string;
  solutionNameOf(v: AvailableVersion): string;
}

/** Salt's `dictupdate.merge(strategy="recurse")`: dicts merged key by key, lists replaced. */
function mergeRecurse(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? mergeRecurse(b, v) : v;
  }
  return out;
}

/** The Solution files of the bootstrap node whose root is `state`. */
export function bootstrapFiles(state: string): BootstrapFiles {
  const configPath = join(state, 'etc/metalk8s/solutions.yaml');
  const mountsPath = join(state, 'etc/fstab.json');
  const srv = join(state, 'srv/scality');

  const readConfig = async (create: boolean): Promise<SolutionsConfig> => {
    let text: string;
    try {
      text = await readFile(configPath, 'utf8');
    } catch {
      if (create) return { apiVersion: API, kind: 'SolutionsConfiguration', archives: [], active: {} };
      throw new CommandExecutionError(`Failed to load "${'/etc/metalk8s/solutions.yaml'}": file does not exist`);
    }
    const cfg = parseYaml(text) as Partial<SolutionsConfig> | null;
    if (cfg?.apiVersion !== API || cfg.kind !== 'SolutionsConfiguration') {
      throw new CommandExecutionError(`Invalid "apiVersion" or "kind" in "/etc/metalk8s/solutions.yaml": expected ${API}/SolutionsConfiguration`);
    }
    return { apiVersion: API, kind: 'SolutionsConfiguration', archives: [...(cfg.archives ?? [])], active: { ...(cfg.active ?? {}) } };
  };
  const writeConfig = async (cfg: SolutionsConfig): Promise<void> => {
    const tmp = `${configPath}.tmp`;
    await writeFile(tmp, stringifyYaml(cfg));
    await rename(tmp, configPath);
  };
  const readMounts = async (): Promise<Mounted[]> => {
    try {
      return JSON.parse(await readFile(mountsPath, 'utf8')) as Mounted[];
    } catch {
      return [];
    }
  };
  const writeMounts = async (mounts: readonly Mounted[]): Promise<void> => {
    await writeFile(`${mountsPath}.tmp`, JSON.stringify(mounts, null, 2));
    await rename(`${mountsPath}.tmp`, mountsPath);
  };

  /** `manifest_from_iso`: `isoinfo -x /MANIFEST.YAML\;1` on the primary directory records. */
  const manifestFromIso = async (archive: string): Promise<{ name: string; version: string; raw: Record<string, unknown> }> => {
    const head = Buffer.alloc(5);
    const fh = await open(archive, 'r').catch(() => undefined);
    if (!fh) throw new CommandExecutionError(`Solution archive '${archive}' does not exist`);
    try {
      await fh.read(head, 0, 5, 32769);
    } finally {
      await fh.close();
    }
    if (head.toString('latin1') !== 'CD001') throw new CommandExecutionError(`Failed to run isoinfo: '${archive}' is not an ISO 9660 image`);
    const iso = await openIso(archive);
    let text = '';
    try {
      const root = await iso.readdir('', { view: 'primary' });
      const entry = root.find((e) => e.name === 'MANIFEST.YAML;1' || e.name === 'MANIFEST.YAML');
      if (entry) text = (await iso.readFile(entry, { view: 'primary' })).toString('utf8');
    } finally {
      await iso.close();
    }
    if (text.trim() === '') throw new CommandExecutionError(`Solution archive '${archive}' must contain a 'manifest.yaml' file`);
    const raw = parseYaml(text) as unknown;
    if (!isRecord(raw)) throw new CommandExecutionError(`Solution archive '${archive}': 'manifest.yaml' is not a mapping`);
    const md = isRecord(raw.metadata) ? raw.metadata : {};
    const spec = isRecord(raw.spec) ? raw.spec : {};
    const name = md.name;
    const version = spec.version;
    if (typeof name !== 'string' || typeof version !== 'string') {
      throw new CommandExecutionError(`Missing mandatory key(s) in Solution 'manifest.yaml': metadata.name and spec.version are required`);
    }
    if (!NAME_RE.test(name)) throw new CommandExecutionError(`Invalid name for Solution: '${name}' must match ${NAME_RE.source}`);
    return { name, version, raw };
  };

  /** "Mounts" an ISO: extracts its Rock Ridge tree to the mountpoint (temp dir, then rename). */
  const mountIso = async (archive: string, mountpoint: string): Promise<void> => {
    const tmp = `${mountpoint}.mounting`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true, mode: 0o755 });
    const iso = await openIso(archive);
    try {
      for (const e of await iso.list({ view: 'rockridge' })) {
        const dest = join(tmp, e.path);
        if (e.type === 'directory') await mkdir(dest, { recursive: true, mode: 0o755 });
        else if (e.type === 'file') {
          await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
          await pipeline(iso.createReadStream(e, { view: 'rockridge' }), createWriteStream(dest, { mode: 0o644 }));
        }
      }
    } finally {
      await iso.close();
    }
    await rm(mountpoint, { recursive: true, force: true });
    await rename(tmp, mountpoint);
    await chmod(mountpoint, 0o755);
  };

  /** `list_available`: every mounted Solution with its merged manifest. */
  const listAvailable = async (): Promise<AvailableVersion[]> => {
    const out: AvailableVersion[] = [];
    for (const m of await readMounts()) {
      if (m.mountpoint.startsWith(join(srv, 'metalk8s-'))) continue;
      const raw = parseYaml(await readFile(join(m.mountpoint, 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
      if (raw.apiVersion !== API || raw.kind !== 'Solution') continue; // "not a Solution", logged and skipped
      const md = raw.metadata as Record<string, unknown>;
      const name = String(md.name);
      const version = String((raw.spec as Record<string, unknown>).version);
      const images: string[] = [];
      const imagesDir = join(m.mountpoint, 'images');
      for (const img of (await readdir(imagesDir).catch(() => [])).sort()) {
        for (const tag of (await readdir(join(imagesDir, img)).catch(() => [])).sort()) images.push(`${img}:${tag}`);
      }
      const defaults: Record<string, unknown> = {
        apiVersion: API,
        kind: 'Solution',
        metadata: { annotations: {}, labels: {}, name },
        spec: {
          version,
          images,
          operator: { image: { name: `${name}-operator`, tag: version } },
          ui: { image: { name: `${name}-ui`, tag: version } },
          customApiGroups: [],
        },
      };
      const manifest = mergeRecurse(defaults, raw);
      const topAnnotations = isRecord(raw.annotations) ? raw.annotations : {};
      const display = topAnnotations['solutions.metalk8s.scality.com/display-name'];
      out.push({
        name: typeof display === 'string' ? display : name,
        id: `${name}-${version}`,
        mountpoint: `/srv/scality/${name}-${version}`,
        archive: m.archive,
        version,
        manifest,
        active: false,
      });
    }
    return out;
  };
  const mountpointOf = (id: string): string => join(srv, id);
  const solutionNameOf = (v: AvailableVersion): string => String((v.manifest.metadata as Record<string, unknown>).name);

  return { configPath, srv, readConfig, writeConfig, readMounts, writeMounts, manifestFromIso, mountIso, listAvailable, mountpointOf, solutionNameOf };
}
