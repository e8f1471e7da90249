import { appendFileSync, writeSync } from 'node:fs';
import type { GlobalOptions } from './globals.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/**
 * Writes log records the way runc does: to `--log` (default stderr), as text
 * or as JSON lines `{"level","msg","time"}` with `level` a string, which is
 * what containerd's shim and podman decode. Writes are synchronous so that a
 * record is on disk before the process exits.
 */
export class Logger {
  constructor(private readonly opts: Pick<GlobalOptions, 'log' | 'logFormat' | 'debug'>) {}

  get toStderr(): boolean {
    return this.opts.log === undefined || this.opts.log === '/dev/stderr';
  }

  format(level: LogLevel, msg: string, time = new Date()): string {
    if (this.opts.logFormat === 'json') {
      return `${JSON.stringify({ level, msg, time: time.toISOString() })}\n`;
    }
    return `time="${time.toISOString()}" level=${level} msg=${JSON.stringify(msg)}\n`;
  }

  write(level: LogLevel, msg: string): void {
    if (level === 'debug' && !this.opts.debug) return;
    const line = this.format(level, msg);
    if (this.toStderr) writeSync(2, line);
    else appendFileSync(this.opts.log as string, line);
  }
}
