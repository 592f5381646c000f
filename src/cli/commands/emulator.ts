import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Command, Option } from '@commander-js/extra-typings';
import { INGRESS_URL_ENV, SALT_API_ENV } from '../../cluster/salt-api-env.js';
import { ClusterError } from '../../errors.js';
import { Size } from '../../solution/size.js';
import { DEFAULT_METALK8S_VERSION, metalk8sFeatures } from '../../solution/metalk8s-version.js';
import { FLAG_RULES, numericOption } from '../_options.js';
import { action, handleSignalsYourself, Output } from '../_output.js';

/** What `emulator serve` writes once the emulator is up, read by `up` and `down`. */
interface EmulatorState {
  readonly pid: number;
  /** Path of the admin kubeconfig file. */
  readonly kubeconfigPath: string;
  readonly saltApi: { readonly url: string; readonly username: string; readonly token: string };
  /** CA bundle of the SaltAPI's certificate, when it serves HTTPS. */
  readonly saltApiCaFile?: string | undefined;
  /** The emulated static registry (real nginx) serving imported images. */
  readonly registryUrl?: string | undefined;
  /** The MetalK8s version the emulator plays. */
  readonly metalk8sVersion?: string | undefined;
  /** The control-plane ingress (real nginx) in front of Prometheus, Alertmanager and Loki, with `--monitoring`. */
  readonly ingressUrl?: string | undefined;
  /** Alertmanager version that runs, with `--monitoring`. */
  readonly alertmanagerVersion?: string | undefined;
}

function defaultStateDir(): string {
  return path.join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), 'metalk8s-sdk-emulator');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function exportLines(state: EmulatorState): string {
  return [
    `# MetalK8s emulator playing MetalK8s ${state.metalk8sVersion ?? DEFAULT_METALK8S_VERSION}: its prepare-environment writes what that version's Salt code writes (docs/emulator.md)`,
    `export KUBECONFIG=${shellQuote(state.kubeconfigPath)}`,
    `export ${SALT_API_ENV.url}=${shellQuote(state.saltApi.url)}`,
    `export ${SALT_API_ENV.username}=${shellQuote(state.saltApi.username)}`,
    `export ${SALT_API_ENV.token}=${shellQuote(state.saltApi.token)}`,
    ...(state.saltApiCaFile ? [`export ${SALT_API_ENV.caFile}=${shellQuote(state.saltApiCaFile)}`] : []),
    ...(state.registryUrl ? [`export METALK8S_REGISTRY_URL=${shellQuote(state.registryUrl)}`] : []),
    ...(state.ingressUrl ? [`export ${INGRESS_URL_ENV}=${shellQuote(state.ingressUrl)}`] : []),
  ].join('\n');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readState(dir: string): Promise<EmulatorState | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as EmulatorState;
  } catch {
    return undefined;
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const DISK_CONTENTS = ['blank', 'ext4', 'xfs', 'gpt', 'mounted', 'lvm-pv'] as const;

/** `node-1:100Gi[:ext4]` → a test disk. */
function parseDisk(text: string): { node: string; sizeBytes: number; content: (typeof DISK_CONTENTS)[number] } {
  const [node = '', size = '', content = 'blank'] = text.split(':');
  const bytes = Size.parse(size)?.bytes;
  const kind = DISK_CONTENTS.find((c) => c === content);
  if (!node || bytes === undefined || bytes <= 0 || !kind) {
    throw new ClusterError('BAD_FLAG', `--disk ${text}: expected <node>:<size>[:${DISK_CONTENTS.join('|')}]`, { hint: 'For example --disk node-1:100Gi --disk node-1:50Gi:ext4.' });
  }
  return { node, sizeBytes: bytes, content: kind };
}

/** `solution emulator up|down`: the MetalK8s emulator for manual use and vendors' CI. */
export function registerEmulatorCommands(program: Command): void {
  const emulator = program
    .command('emulator')
    .description('Run the MetalK8s emulator: a real Kubernetes control plane and the bootstrap node SaltAPI.');

  emulator
    .command('up')
    .description('Start the emulator in the background and print `export` lines: eval "$(solution emulator up)"')
    .option('--state-dir <dir>', 'where the emulator keeps its state and logs', defaultStateDir())
    .option('--metalk8s-version <version>', 'MetalK8s version to play: what the cluster claims and what its orchestrates write', DEFAULT_METALK8S_VERSION)
    .addOption(new Option('--cluster-version <version>', 'former name of --metalk8s-version').hideHelp())
    .addOption(numericOption('--timeout <seconds>', 'give up when not up after this long (the first run builds the binaries)', FLAG_RULES.timeoutSeconds).default(3600))
    .option('--disk <spec>', 'a loop-device disk for a workload node, <node>:<size>[:<content>], e.g. node-1:100Gi or node-2:50Gi:ext4; repeat it (needs root)', collect, [] as string[])
    .option('--monitoring', 'also run Prometheus, Alertmanager and a Loki stand-in behind the control-plane ingress')
    .option('--json', 'print the credentials as one JSON object')
    .action(
      action(async (opts) => {
        const out = new Output({ json: opts.json === true });
        // A bad --disk is said here, not after the background process started.
        for (const d of opts.disk ?? []) parseDisk(d);
        const dir = path.resolve(opts.stateDir);
        const existing = await readState(dir);
        if (existing && alive(existing.pid)) {
          out.result(exportLines(existing), existing);
          return;
        }
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const log = path.join(dir, 'emulator.log');
        const fd = openSync(log, 'a');
        const cli = process.argv[1] ?? '';
        const child = spawn(
          process.execPath,
          [cli, 'emulator', 'serve', '--state-dir', dir, '--metalk8s-version', metalk8sFeatures(opts.clusterVersion ?? opts.metalk8sVersion).version, ...(opts.monitoring ? ['--monitoring'] : []), ...(opts.disk ?? []).flatMap((d) => ['--disk', d])],
          { detached: true, stdio: ['ignore', fd, fd] },
        );
        closeSync(fd);
        child.unref();
        const deadline = Date.now() + opts.timeout * 1000;
        for (;;) {
          const state = await readState(dir);
          if (state) {
            out.result(exportLines(state), state);
            return;
          }
          if (child.exitCode !== null || (child.pid !== undefined && !alive(child.pid))) {
            const tail = existsSync(log) ? readFileSync(log, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '';
            throw new ClusterError('EMULATOR_FAILED', `the emulator stopped while starting:\n${tail}`, {
              hint: `Full log: ${log}`,
            });
          }
          if (Date.now() > deadline) {
            throw new ClusterError('EMULATOR_TIMEOUT', `the emulator was not up after ${opts.timeout} s`, {
              hint: `See ${log}; stop it with \`solution emulator down\`.`,
            });
          }
          await new Promise((r) => setTimeout(r, 300));
        }
      }),
    );

  emulator
    .command('down')
    .description('Stop the emulator started by `up` and remove its state.')
    .option('--state-dir <dir>', 'state directory given to `up`', defaultStateDir())
    .action(
      action(async (opts) => {
        const out = new Output();
        const dir = path.resolve(opts.stateDir);
        const state = await readState(dir);
        if (state && alive(state.pid)) {
          process.kill(state.pid, 'SIGTERM');
          const deadline = Date.now() + 30_000;
          while (alive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
          if (alive(state.pid)) process.kill(state.pid, 'SIGKILL');
        }
        await rm(dir, { recursive: true, force: true });
        out.result(
          [
            'unset KUBECONFIG',
            `unset ${SALT_API_ENV.url}`,
            `unset ${SALT_API_ENV.username}`,
            `unset ${SALT_API_ENV.token}`,
            `unset ${SALT_API_ENV.caFile}`,
            'unset METALK8S_REGISTRY_URL',
            `unset ${INGRESS_URL_ENV}`,
          ].join('\n'),
          { stopped: state !== undefined },
        );
      }),
    );

  // Internal: the background process `up` starts.
  emulator
    .command('serve', { hidden: true })
    .option('--state-dir <dir>', 'state directory', defaultStateDir())
    .option('--metalk8s-version <version>', 'MetalK8s version', DEFAULT_METALK8S_VERSION)
    .option('--disk <spec>', 'loop-device disks', collect, [] as string[])
    .option('--monitoring', 'run the monitoring stack')
    .action(async (opts) => {
      // Stopping the emulator (control plane, salt, nginx) takes longer than the CLI's grace period.
      handleSignalsYourself();
      const dir = path.resolve(opts.stateDir);
      // The one place src/ reaches testing/ (docs/architecture.md): loaded on use, so that no
      // other command loads the emulator or the Kubernetes client.
      const { startMetalK8s } = await import('../../testing/index.js');
      const disks = (opts.disk ?? []).map(parseDisk);
      const mk8s = await startMetalK8s({
        metalk8sVersion: opts.metalk8sVersion,
        ...(disks.length > 0 ? { disks, workloadNodes: [...new Set(disks.map((d) => d.node))] } : {}),
        monitoring: opts.monitoring === true,
        onProgress: (e) => process.stdout.write(`${JSON.stringify(e)}\n`),
      });
      const kubeconfigPath = path.join(dir, 'kubeconfig');
      await writeFile(kubeconfigPath, mk8s.kubeconfigYaml, { mode: 0o600 });
      let saltApiCaFile: string | undefined;
      if (mk8s.saltApi.ca) {
        saltApiCaFile = path.join(dir, 'ca.crt');
        await writeFile(saltApiCaFile, mk8s.saltApi.ca);
      }
      const state: EmulatorState = {
        pid: process.pid,
        kubeconfigPath,
        saltApiCaFile,
        saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token },
        registryUrl: mk8s.registryUrl,
        metalk8sVersion: mk8s.metalk8sVersion,
        ingressUrl: mk8s.monitoring?.ingressUrl,
        alertmanagerVersion: mk8s.monitoring?.alertmanager.version,
      };
      await writeFile(path.join(dir, 'state.json.tmp'), JSON.stringify(state), { mode: 0o600 });
      await rename(path.join(dir, 'state.json.tmp'), path.join(dir, 'state.json'));
      process.stdout.write(`emulator up: ${mk8s.saltApi.url}, playing MetalK8s ${mk8s.metalk8sVersion}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await mk8s.stop();
      process.stdout.write('emulator stopped\n');
    });
}
