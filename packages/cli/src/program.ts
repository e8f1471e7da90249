import { Command, Option } from 'commander';
import { DEFAULT_ROOT, type GlobalOptions } from './globals.js';
import { formatRuncStyleHelp } from './help.js';
import { registerImageCommands } from './image-program.js';
import { versionText } from './version.js';

/** What a command's action hands back to main(): the process exit status. */
export type CommandResult = number | undefined;

export class NotImplementedError extends Error {}

// runc's commands that tsoci does not implement yet. Each one is registered so
// that `tsoci help` is honest and calling it fails with a clear error instead
// of "unknown command".
const NOT_YET: ReadonlyArray<readonly [string, string]> = [
  ['checkpoint', 'checkpoint a running container'],
  ['restore', 'restore a container from a previous checkpoint'],
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
      '--systemd-cgroup',
      'enable systemd cgroup support (not supported: commands fail with a clear error)',
    )
    .addOption(
      new Option(
        '--rootless <value>',
        "ignore cgroup permission errors ('true', 'false', or 'auto')",
      )
        .choices(['true', 'false', 'auto'])
        .default('auto'),
    )
    .option(
      '--root <dir>',
      'root directory for storage of container state (this should be located in tmpfs)',
      DEFAULT_ROOT,
    )
    // Set before the subcommands exist: commander copies it into each of them.
    // Its messages start with "error: "; runc's say "<name>: ".
    .configureOutput({
      outputError: (str, write) => write(str.replace(/^error: /, 'tsoci: ')),
    })
    .configureHelp({
      formatHelp: (cmd, helper) => formatRuncStyleHelp(cmd, helper, version),
    })
    .exitOverride()
    .hook('preAction', async (_root, action) => {
      // Not ignored: an engine asking for the systemd driver must learn it is absent.
      if (program.opts<GlobalOptions>().systemdCgroup && action.name() !== 'spec') {
        const { systemdCgroupUnsupported } = await import('@ts-oci/cgroups');
        throw systemdCgroupUnsupported();
      }
    });

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

  const g = () => globalOptions(program);
  const lifecycle = () => import('./commands/lifecycle.js');
  const withCreateFlags = (cmd: Command) =>
    cmd
      .option(
        '-b, --bundle <dir>',
        'path to the root of the bundle directory, defaults to the current directory',
      )
      .option(
        '--console-socket <path>',
        "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal",
      )
      .option('--pid-file <file>', 'specify the file to write the process id to')
      .option('--no-pivot', 'do not use pivot root to jail process inside rootfs')
      .option('--no-new-keyring', 'do not create a new session keyring for the container')
      .option(
        '--preserve-fds <n>',
        'pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)',
      );

  withCreateFlags(
    program.command('create').description('create a container').argument('<container-id>'),
  ).action(async (id: string, f) =>
    hooks.setResult(await (await lifecycle()).createCommand(g(), id, f)),
  );

  program
    .command('start')
    .description('executes the user defined process in a created container')
    .argument('<container-id>')
    .action(async (id: string) => hooks.setResult(await (await lifecycle()).startCommand(g(), id)));

  withCreateFlags(
    program.command('run').description('create and run a container').argument('<container-id>'),
  )
    .option('-d, --detach', "detach from the container's process")
    .option('--keep', 'do not delete the container after it exits')
    .option(
      '--image <ref>',
      'run an image: build its bundle under the state dir (removed with the container)',
    )
    .action(async (id: string, f) => {
      if (f.image !== undefined) {
        hooks.setResult(await (await import('./commands/image.js')).runImageCommand(g(), id, f));
      } else hooks.setResult(await (await lifecycle()).runCommand(g(), id, f));
    });

  program
    .command('state')
    .description('output the state of a container')
    .argument('<container-id>')
    .action(async (id: string) => hooks.setResult(await (await lifecycle()).stateCommand(g(), id)));

  program
    .command('kill')
    .description(
      "kill sends the specified signal (default: SIGTERM) to the container's init process",
    )
    .argument('<container-id>')
    .argument('[signal]')
    .option('-a, --all', 'send the specified signal to all processes inside the container')
    .option('-s, --signal <signal>', 'the signal to send (same as the positional argument)')
    .action(async (id: string, signal: string | undefined, f) =>
      hooks.setResult(await (await lifecycle()).killCommand(g(), id, signal, f)),
    );

  program
    .command('delete')
    .description('delete any resources held by the container often used with detached container')
    .argument('<container-id>')
    .option('-f, --force', 'forcibly deletes the container if it is still running (uses SIGKILL)')
    .action(async (id: string, f) =>
      hooks.setResult(await (await lifecycle()).deleteCommand(g(), id, f)),
    );

  program
    .command('list')
    .description('lists containers started by tsoci with the given root')
    .option('-f, --format <format>', 'select one of: table or json', 'table')
    .option('-q, --quiet', 'display only container IDs')
    .action(async (f) => hooks.setResult(await (await lifecycle()).listCommand(g(), f)));

  const cgroupCmds = () => import('./commands/cgroups.js');
  program
    .command('pause')
    .description('pause suspends all processes inside the container')
    .argument('<container-id>')
    .action(async (id: string) =>
      hooks.setResult(await (await cgroupCmds()).pauseCommand(g(), id)),
    );

  program
    .command('resume')
    .description('resumes all processes that have been previously paused')
    .argument('<container-id>')
    .action(async (id: string) =>
      hooks.setResult(await (await cgroupCmds()).resumeCommand(g(), id)),
    );

  program
    .command('ps')
    .description('ps displays the processes running inside a container')
    .argument('<container-id>')
    .argument('[ps-options...]', 'options for ps (default -ef)')
    .option('-f, --format <format>', 'select one of: table or json', 'table')
    .passThroughOptions()
    .action(async (id: string, psArgs: string[], f) =>
      hooks.setResult(await (await cgroupCmds()).psCommand(g(), id, psArgs, f)),
    );

  program
    .command('update')
    .description('update container resource constraints')
    .argument('<container-id>')
    .option('-r, --resources <file>', 'path to a file with the resources to update, or - for stdin')
    .option('--blkio-weight <n>', 'specifies per cgroup weight, range is from 10 to 1000')
    .option('--cpu-period <n>', 'CPU CFS period to be used for hardcapping (in usecs)')
    .option(
      '--cpu-quota <n>',
      'CPU CFS hardcap limit (in usecs); allowed cpu time in a given period',
    )
    .option('--cpu-burst <n>', 'CPU CFS burst (in usecs)')
    .option('--cpu-rt-period <n>', 'CPU realtime period to be used for hardcapping (in usecs)')
    .option('--cpu-rt-runtime <n>', 'CPU realtime hardcap limit (in usecs)')
    .option('--cpu-share <n>', 'CPU shares (relative weight vs. other containers)')
    .option('--cpuset-cpus <list>', 'CPU(s) to use')
    .option('--cpuset-mems <list>', 'memory node(s) to use')
    .option('--memory <bytes>', 'memory limit (in bytes; k, m, g suffixes)')
    .option('--memory-reservation <bytes>', 'memory reservation or soft_limit (in bytes)')
    .option(
      '--memory-swap <bytes>',
      'total memory usage (memory + swap); set -1 to enable unlimited swap',
    )
    .option('--kernel-memory <bytes>', 'kernel memory limit (in bytes)')
    .option('--kernel-memory-tcp <bytes>', 'kernel memory limit for tcp buffer (in bytes)')
    .option('--pids-limit <n>', 'maximum number of pids allowed in the container')
    .action(async (id: string, f) =>
      hooks.setResult(await (await cgroupCmds()).updateCommand(g(), id, f)),
    );

  program
    .command('events')
    .description(
      'display container events such as OOM notifications, cpu, memory, and IO usage statistics',
    )
    .argument('<container-id>')
    .option('--interval <duration>', 'set the stats collection interval', '5s')
    .option('--stats', "display the container's stats then exit")
    .action(async (id: string, f) =>
      hooks.setResult(await (await cgroupCmds()).eventsCommand(g(), id, f)),
    );

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  program
    .command('exec')
    .description('execute new process inside the container')
    .argument('<container-id>')
    .argument('[command...]', 'the command and its arguments (unless --process is given)')
    .option('-p, --process <file>', 'path to the process.json')
    .option('-d, --detach', "detach from the container's process")
    .option('--pid-file <file>', 'specify the file to write the process id to')
    .option(
      '--console-socket <path>',
      'path to an AF_UNIX socket which will receive the pty master',
    )
    .option('-t, --tty', 'allocate a pseudo-TTY')
    .option('--preserve-fds <n>', 'pass N additional file descriptors to the process')
    .option('--cwd <dir>', 'current working directory in the container')
    .option('-e, --env <KEY=VALUE>', 'set environment variables (repeatable)', collect)
    .option('-u, --user <uid[:gid]>', 'UID (format: <uid>[:<gid>])')
    .option('-g, --additional-gids <gid>', 'additional gids (repeatable)', collect)
    .option(
      '-c, --cap <cap>',
      'add a capability to the bounding set for the process (repeatable)',
      collect,
    )
    .option('--no-new-privs', 'set the no new privileges value for the process')
    .option('--apparmor <profile>', 'set the apparmor profile for the process (not supported)')
    .option('--process-label <label>', 'set the asm process label for the process (not supported)')
    .option('--ignore-paused', 'allow exec in a paused container')
    .passThroughOptions()
    .action(async (id: string, command: string[], f) =>
      hooks.setResult(await (await import('./commands/exec.js')).execCommand(g(), id, command, f)),
    );

  program
    .command('features')
    .description('show the enabled features')
    .action(async () => {
      const { features } = await import('@ts-oci/runtime');
      // runc prints the document indented by four spaces.
      process.stdout.write(`${JSON.stringify(await features(), null, 4)}\n`);
      hooks.setResult(0);
    });

  program
    .command('validate')
    .description('check that a bundle can run, printing every problem, without side effects')
    .option(
      '-b, --bundle <dir>',
      'path to the root of the bundle directory, defaults to the current directory',
    )
    .action(async (f) => hooks.setResult(await (await lifecycle()).validateCommand(g(), f)));

  registerImageCommands(program, g, hooks.setResult);

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
