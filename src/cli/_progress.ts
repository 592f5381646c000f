/**
 * Progress display for long commands: a redrawn status line on a terminal (phase, bytes done,
 * rate, time left), plain lines when the output is a file or a pipe, JSON events with `--json`,
 * nothing with `--quiet`. Commands feed it the library's typed progress events.
 */
import type { Output } from './_output.js';

/** What a command reports: a phase name, and optionally bytes or items done of a total. */
export interface ProgressUpdate {
  readonly phase: string;
  readonly done?: number;
  readonly total?: number;
  /** `bytes` prints sizes; `items` prints counts. @default "bytes" */
  readonly unit?: 'bytes' | 'items';
  readonly detail?: string;
}

/** Human size, binary units. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

/** Draws progress for one command run. Call {@link ProgressDisplay.done} at the end. */
export class ProgressDisplay {
  private readonly tty: boolean;
  private phase = '';
  private phaseStart = 0;
  private lastDraw = 0;
  private lastPlain = 0;
  private finishedPrinted = false;
  private drawn = false;

  constructor(
    private readonly out: Output,
    private readonly options: { readonly quiet?: boolean | undefined; readonly stream?: NodeJS.WriteStream } = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tty = (options.stream ?? process.stderr).isTTY === true && !out.json && !options.quiet;
  }

  private get stream(): NodeJS.WriteStream {
    return this.options.stream ?? process.stderr;
  }

  /** Reports an update; cheap to call often (redraws at most 10 times a second). */
  update(u: ProgressUpdate): void {
    const t = this.now();
    if (this.out.json) {
      this.out.event({ type: 'progress', ...u });
      return;
    }
    if (this.options.quiet) return;
    if (u.phase !== this.phase) {
      if (this.tty && this.drawn) this.stream.write('\n');
      this.drawn = false;
      this.phase = u.phase;
      this.phaseStart = t;
      this.lastPlain = 0;
      this.finishedPrinted = false;
      if (!this.tty) this.stream.write(`${u.phase}${u.detail ? `: ${u.detail}` : ''}\n`);
    }
    const finished = u.total !== undefined && u.done === u.total;
    if (this.tty) {
      if (!finished && t - this.lastDraw < 100) return;
      this.lastDraw = t;
      this.stream.write(`\r\x1b[2K${this.line(u, t)}`);
      this.drawn = true;
    } else if (u.total !== undefined && u.done !== undefined && !this.finishedPrinted && (finished || t - this.lastPlain > 5000)) {
      // Plain output: a line every five seconds at most, and one at the end of each phase.
      this.lastPlain = t;
      this.finishedPrinted = finished;
      this.stream.write(`  ${this.line(u, t)}\n`);
    }
  }

  private line(u: ProgressUpdate, t: number): string {
    const elapsed = (t - this.phaseStart) / 1000;
    const fmt = (n: number) => (u.unit === 'items' ? String(n) : formatBytes(n));
    let text = u.phase;
    if (u.done !== undefined && u.total !== undefined && u.total > 0) {
      const frac = Math.min(1, u.done / u.total);
      const width = 24;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      const rate = elapsed > 0 ? u.done / elapsed : 0;
      const left = rate > 0 ? (u.total - u.done) / rate : Number.NaN;
      text += ` [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(u.done)}/${fmt(u.total)}`;
      if (u.unit !== 'items' && rate > 0) text += ` ${formatBytes(rate)}/s`;
      if (u.done < u.total) text += ` ${formatDuration(left)} left`;
    } else if (u.done !== undefined) {
      text += ` ${fmt(u.done)}`;
    }
    if (u.detail) text += ` ${u.detail}`;
    return text;
  }

  /** Ends the display (newline after a redrawn line). */
  done(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
