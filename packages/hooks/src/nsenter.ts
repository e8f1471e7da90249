import type { HookWrapper } from './types.js';

export interface NsenterWrapperOptions {
  /** Absolute path of the `tsoci-init` executable. */
  init: string;
  /** Host pid of a process inside the container's namespaces (the container init). */
  pid: number;
  /** Namespace types to join (`--ns TYPE`); default: every kind that differs, as tsoci-init decides. */
  namespaces?: readonly string[] | undefined;
}

/**
 * A {@link HookWrapper} that runs a hook in the container's namespaces:
 *
 *     tsoci-init nsenter --target PID [--ns TYPE]... [--argv0 NAME] -- PATH ARGS[1..]
 *
 * After `--`, the first element is the executable path (execve's *path*), so
 * a hook whose `args[0]` differs from `path` needs `--argv0` to keep its
 * argv[0]; it is only passed then, so the common case needs no support for it.
 * The hook's environment is the wrapper's own (runHooks spawns the wrapper
 * with exactly the hook's `env`), so no `--env` flags are generated.
 */
export function nsenterWrapper(opts: NsenterWrapperOptions): HookWrapper {
  if (!Number.isInteger(opts.pid) || opts.pid <= 0) {
    throw new TypeError(`nsenterWrapper: pid must be a positive integer, got ${opts.pid}`);
  }
  const nsFlags = (opts.namespaces ?? []).flatMap((type) => ['--ns', type]);
  return (hook) => {
    const [argv0 = hook.path, ...rest] = hook.argv;
    return {
      file: opts.init,
      args: [
        'nsenter',
        '--target',
        String(opts.pid),
        ...nsFlags,
        ...(argv0 === hook.path ? [] : ['--argv0', argv0]),
        '--',
        hook.path,
        ...rest,
      ],
    };
  };
}
