import { Command, Option } from 'commander';
import { DEFAULT_ROOT, type GlobalOptions } from './globals.js';
import { formatRuncStyleHelp } from './help.js';
import { versionText } from './version.js';

/** What a command's action hands back to main(): the process exit status. */
export type CommandResult = number | undefined;

export class NotImplementedError extends Error {}

// runc's commands that tsoci does not implement yet. Each one is registered so
// that `tsoci help` is honest and calling it fails with a clear error instead
// of "unknown command".
const NOT_YET: ReadonlyArray<readonly [string, string]> = [
  ['checkpoint', 'checkpoint a running container'],
  ['create', 'create a container'],
  ['delete', 'delete any resources held by the container'],
  ['events', 'display container events such as OOM notifications and resource usage'],
  ['exec', 'execute new process inside the container'],
  ['features', 'show the enabled features'],
  ['kill', "kill sends the specified signal (default: SIGTERM) to the container's init process"],
  ['list', 'lists containers started by tsoci with the given root'],
  ['pause', 'pause suspends all processes inside the container'],
  ['ps', 'ps displays the processes running inside a container'],
  ['restore', 'restore a container from a previous checkpoint'],
  ['resume', 'resumes all processes that have been previously paused'],
  ['run', 'create and run a container'],
  ['start', 'executes the user defined process in a created container'],
  ['state', 'output the state of a container'],
  ['update', 'update container resource constraints'],
];

export interface ProgramHooks {
  /** Receives each command's exit status. */
  setResult(code: CommandResult): void;
}

export function buildProgram(hooks: ProgramHooks): Command {
  const version = versionText();
  const program = new Command('tsoci')
    .description('Open Container Initiative runtime written in TypeScript')
    .enablePositionalOptions()
    .version(version, '-v, --version', 'print the version')
    .option('--debug', 'enable debug logging', false)
    .option('--log <file>', "set the log file to write tsoci logs to (default is '/dev/stderr')")
    .addOption(
      new Option('--log-format <format>', "set the log format ('text' (default), or 'json')")
        .choices(['text', 'json'])
        .default('text'),
    )
    .option(
      '--root <dir>',
      'root directory for storage of container state (this should be located in tmpfs)',
      DEFAULT_ROOT,
    )
    .configureHelp({
      formatHelp: (cmd, helper) => formatRuncStyleHelp(cmd, helper, version),
    })
    .exitOverride();

  program
    .command('spec')
    .description('create a new specification file')
    .option('-b, --bundle <dir>', 'path to the root of the bundle directory')
    .option('--rootless', 'generate a configuration for a rootless container')
    .action(async (opts: { bundle?: string; rootless?: boolean }) => {
      const { specCommand } = await import('./commands/spec.js');
      await specCommand(opts);
      hooks.setResult(0);
    });

  for (const [name, description] of NOT_YET) {
    program
      .command(name)
      .description(description)
      .allowUnknownOption()
      .allowExcessArguments()
      .helpOption(false)
      .action(() => {
        throw new NotImplementedError(`${name} is not implemented yet`);
      });
  }
  return program;
}

export function globalOptions(program: Command): GlobalOptions {
  return program.opts<GlobalOptions>();
}
