import { TsociError } from '@ts-oci/spec/errors';
import { CommanderError } from 'commander';
import { CommandFailure } from './failure.js';
import { Logger } from './log.js';
import { buildProgram, globalOptions, NotImplementedError } from './program.js';

/**
 * Runs one tsoci command line (without the node and script names) and returns
 * the exit status. Errors never escape: each is printed as `tsoci: <message>`
 * on stderr and, when `--log` is given, written there in the `--log-format`.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let result: number | undefined;
  const program = buildProgram({
    setResult: (code) => {
      result = code;
    },
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const message = err instanceof Error ? err.message : String(err);
    const logger = new Logger(globalOptions(program));
    if (!logger.toStderr) logger.write('error', message);
    process.stderr.write(`tsoci: ${message}\n`);
    if (
      !(err instanceof TsociError) &&
      !(err instanceof NotImplementedError) &&
      process.env.TSOCI_DEBUG_STACK
    ) {
      process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
    }
    return err instanceof CommandFailure ? err.exitCode : 1;
  }
}

/** Runs `main` as the process's program: its status becomes the exit code. */
export function runAsProgram(argv: readonly string[]): void {
  main(argv).then(exitWhenFlushed, (err: unknown) => {
    // main() reports every error itself; reaching here is a bug in the CLI.
    process.stderr.write(
      `tsoci: internal error: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    exitWhenFlushed(1);
  });
}

/**
 * Ends the process as soon as what it printed is written. When main()
 * resolves the command is over (a foreground container has exited, a created
 * one is left to its init), so nothing else may keep it alive; letting Node
 * wind down by itself tears down the whole V8 heap first, which cost a
 * `create` 4–8 ms. Output to a pipe can still be queued (stdio pipes are
 * asynchronous on POSIX), hence the wait for it.
 */
function exitWhenFlushed(code: number): void {
  const queued = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
  let left = queued.length;
  if (left === 0) process.exit(code);
  for (const stream of queued) {
    stream.write('', () => {
      left -= 1;
      if (left === 0) process.exit(code);
    });
  }
}
