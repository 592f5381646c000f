/**
 * Runs `solution dev --json` from the built CLI as a child process and collects its JSON events,
 * for the dev-loop tests (with and without the emulator).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** The repository root. */
export const ROOT = join(import.meta.dirname, '../../..');

/** One `round` event of `solution dev --json`. */
export interface RoundEvent {
  readonly type: 'round';
  readonly index: number;
  readonly changed: string[];
  readonly ok: boolean;
  readonly timings: { validate: number; pack: number; after: number; total: number };
  readonly iso?: string;
  readonly sha256?: string;
  readonly version?: string;
  readonly build?: { layersBuilt: number; layersCached: number; bytesCompressed: number };
  readonly after?: string;
  readonly issues: { code: string; path: string; severity: string }[];
  readonly error?: { code: string; message: string };
}

/** A running `solution dev`. */
export class DevProcess {
  readonly rounds: RoundEvent[] = [];
  stderr = '';
  readonly #child: ChildProcess;
  readonly #exit: Promise<number | null>;

  constructor(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
    this.#child = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'dev', ...args, '--json'], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.#child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const e = JSON.parse(line) as { type: string };
        if (e.type === 'round') this.rounds.push(e as RoundEvent);
        nl = buf.indexOf('\n');
      }
    });
    this.#child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.#exit = new Promise((res) => this.#child.on('exit', (code) => res(code)));
  }

  /** Waits for round `index` and returns it. */
  async round(index: number, timeoutMs = 60_000): Promise<RoundEvent> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      const r = this.rounds.find((x) => x.index === index);
      if (r) return r;
      if (this.#child.exitCode !== null) throw new Error(`solution dev exited (${this.#child.exitCode}): ${this.stderr}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`no round ${index} after ${timeoutMs} ms (rounds: ${JSON.stringify(this.rounds)}; stderr: ${this.stderr})`);
  }

  /** Ctrl-C; resolves with the exit code. */
  stop(): Promise<number | null> {
    this.#child.kill('SIGINT');
    return this.#exit;
  }
}
