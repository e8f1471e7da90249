import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { rt, runtimeEnv } from './runtime.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'console-receiver.py');
// The system interpreter has socket.recv_fds (3.9+); a pyenv shim would need more env than PATH.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface ConsoleEvent {
  event: string;
  [key: string]: unknown;
}

export interface ConsoleOutcome {
  /** Everything the container wrote to the terminal (with \r\n line ends). */
  output: string;
  events: ConsoleEvent[];
  /** The receiver's own status: 0 after the pty closed, 2 no fd, 3 timeout. */
  receiverExit: number | undefined;
}

function parseEvents(stderr: unknown): ConsoleEvent[] {
  return String(stderr ?? '')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ConsoleEvent);
}

/** Lines of terminal output, without the carriage returns the pty adds. */
export function ttyLines(output: string): string[] {
  return output.split(/\r?\n/).map((l) => l.replace(/\r/g, ''));
}

export interface ReceiverOptions {
  /** Written to the pty once received. */
  send?: string;
  /** Relay write() calls to the pty instead (a conversation with the shell). */
  interactive?: boolean;
  timeoutS?: number;
}

/**
 * A console socket: listens at `socketPath`, takes the pty master the runtime
 * sends, talks to the container through it and collects its output.
 */
export class ConsoleReceiver {
  /** The terminal output so far. */
  output = '';

  private constructor(
    readonly socketPath: string,
    private readonly proc: ResultPromise,
  ) {
    proc.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
  }

  /** Types into the terminal (interactive receivers only). */
  write(text: string): void {
    if (!this.proc.stdin) throw new Error('receiver was not started interactive');
    this.proc.stdin.write(text);
  }

  /** Resolves once the terminal output matches `re`; fails with what was seen. */
  async waitForOutput(re: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.output)) {
      if (Date.now() > deadline) {
        throw new Error(`terminal never printed ${re}; got ${JSON.stringify(this.output)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  static async listen(socketPath: string, opts: ReceiverOptions = {}): Promise<ConsoleReceiver> {
    const args = [SCRIPT, socketPath, '--timeout', String(opts.timeoutS ?? 20)];
    if (opts.send !== undefined) args.push('--send', opts.send);
    const proc = execa(PYTHON, args, {
      env: runtimeEnv,
      extendEnv: false,
      reject: false,
      stdin: opts.interactive ? 'pipe' : 'ignore',
      buffer: true,
      stripFinalNewline: false,
    });
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('"listening"')) {
          proc.stderr?.off('data', onData);
          resolve();
        }
      };
      proc.stderr?.on('data', onData);
      proc.then(
        (r) => reject(new Error(`console receiver exited early: ${String(r.stderr)}`)),
        reject,
      );
    });
    return new ConsoleReceiver(socketPath, proc);
  }

  async done(): Promise<ConsoleOutcome> {
    const r = await this.proc;
    return { output: String(r.stdout), events: parseEvents(r.stderr), receiverExit: r.exitCode };
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

export interface PtyOutcome extends ConsoleOutcome {
  /** The exit status of the runtime process that ran on the pty. */
  exitCode: number | undefined;
}

/**
 * Runs the runtime with `args` on a new pty that is its controlling terminal
 * (how a user runs `run` with terminal: true), types `send`, and returns the
 * output and the runtime's exit status.
 */
export async function runtimeOnPty(
  args: readonly string[],
  send: string,
  timeoutS = 20,
): Promise<PtyOutcome> {
  const r = await execa(
    PYTHON,
    [
      SCRIPT,
      '--spawn',
      '--send',
      send,
      '--timeout',
      String(timeoutS),
      '--',
      rt.file,
      ...rt.prefix,
      ...args,
    ],
    {
      env: runtimeEnv,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      stripFinalNewline: false,
      timeout: (timeoutS + 10) * 1000,
    },
  );
  const events = parseEvents(r.stderr);
  const exit = events.find((e) => e.event === 'exit');
  return {
    output: String(r.stdout),
    events,
    receiverExit: r.exitCode,
    exitCode: typeof exit?.code === 'number' ? exit.code : undefined,
  };
}
