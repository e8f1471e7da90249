import { mkdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nsenterWrapper, runHooks } from '../src/index.js';
import { type Sandbox, sandbox, stateFor } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
  await mkdir(sb.path('bundle'));
});
afterEach(() => sb.cleanup());

const hook = (argv: string[]) => ({ path: '/usr/bin/x', argv, env: {}, timeout: undefined });

describe('nsenterWrapper', () => {
  it('builds `tsoci-init nsenter --target PID -- PATH ARGS[1..]`', () => {
    const wrap = nsenterWrapper({ init: '/usr/libexec/tsoci-init', pid: 123 });
    expect(wrap(hook(['/usr/bin/x', 'a', 'b']))).toEqual({
      file: '/usr/libexec/tsoci-init',
      args: ['nsenter', '--target', '123', '--', '/usr/bin/x', 'a', 'b'],
    });
  });

  it('adds --argv0 only when args[0] differs from path, and --ns per namespace', () => {
    const wrap = nsenterWrapper({ init: '/i', pid: 7, namespaces: ['mount', 'pid'] });
    expect(wrap(hook(['x-hook', '--flag'])).args).toEqual([
      'nsenter',
      '--target',
      '7',
      '--ns',
      'mount',
      '--ns',
      'pid',
      '--argv0',
      'x-hook',
      '--',
      '/usr/bin/x',
      '--flag',
    ]);
  });

  it('rejects a bad pid', () => {
    expect(() => nsenterWrapper({ init: '/i', pid: 0 })).toThrow(TypeError);
  });

  it('runs a hook end to end through a stand-in init that honours the convention', async () => {
    // Stands in for tsoci-init nsenter: skips its flags, keeps --argv0, execs the rest.
    const init = await sb.script(
      'fake-init',
      [
        '[ "$1" = nsenter ] || exit 90; shift',
        'argv0=',
        'while [ "$1" != -- ]; do case "$1" in',
        '  --target|--ns) shift 2;;',
        '  --argv0) argv0=$2; shift 2;;',
        '  *) exit 91;;',
        'esac; done; shift',
        'path=$1; shift',
        '[ -n "$argv0" ] || argv0=$path',
        'exec -a "$argv0" "$path" "$@"',
      ].join('\n'),
      '#!/bin/bash',
    );

    const [result] = await runHooks(
      'createContainer',
      [{ path: '/bin/busybox', args: ['cat', '/proc/self/cmdline'], env: ['K=v'] }],
      stateFor(sb.path('bundle')),
      { wrap: nsenterWrapper({ init, pid: process.pid }) },
    );

    expect(result?.ok).toBe(true);
    expect(result?.stdout.split('\0')).toEqual(['cat', '/proc/self/cmdline', '']);
  });
});
