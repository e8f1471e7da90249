import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  TsociError,
} from '@ts-oci/spec';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptRecvFd,
  closeFd,
  compileSeccomp,
  createContainerDir,
  getWindowSize,
  isAlive,
  isValidContainerId,
  listenUnix,
  listIds,
  lockContainer,
  lockContainerAsync,
  makePipe,
  mkfifo,
  NativeErrorCode,
  NativeRuntimeError,
  processStartTime,
  readStateUnlocked,
  releaseExecFifo,
  releaseExecFifoAsync,
  seccompTables,
  sendFd,
  setChildSubreaper,
  setWindowSize,
  signalProcess,
  validateId,
  waitPid,
  withContainerLock,
} from '../src/native.js';

let scratch: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tsoci-native-'));
});

afterEach(() => {
  // Only processes this file spawned, and only while node still tracks them.
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
function freshDir(tag: string): string {
  const dir = join(scratch, `${tag}-${n++}`);
  mkdirSync(dir);
  return dir;
}

function caught(fn: () => unknown): NativeRuntimeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NativeRuntimeError) return e;
    throw e;
  }
  throw new Error('expected a NativeRuntimeError, nothing was thrown');
}

async function rejected(p: Promise<unknown>): Promise<NativeRuntimeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NativeRuntimeError) return e;
    throw e;
  }
  throw new Error('expected a NativeRuntimeError, the promise resolved');
}

function track(child: ChildProcess): { child: ChildProcess; pid: number } {
  children.push(child);
  if (child.pid === undefined) throw new Error('spawn failed');
  return { child, pid: child.pid };
}

/** Field 22 of /proc/<pid>/stat, parsed independently of the addon. */
function startTimeFromProc(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[22 - 3]);
}

describe('container ids', () => {
  it('accepts runc-style ids and rejects the rest with a message naming the id', () => {
    for (const id of ['a', 'my.container_1+x-y', '.hidden'])
      expect(isValidContainerId(id)).toBe(true);
    const cases: Array<[string, string]> = [
      ['', 'invalid container id "": must not be empty'],
      ['..', 'invalid container id "..": must not be "." or ".."'],
      ['a/b', `invalid container id "a/b": must not contain '/'`],
      ['a b', `invalid container id "a b": character ' ' is not allowed`],
    ];
    for (const [id, message] of cases) {
      const e = caught(() => validateId(id));
      expect(e).toBeInstanceOf(TsociError);
      expect(e.code).toBe(NativeErrorCode.INVALID_ID);
      expect(e.errno).toBe('EINVAL');
      expect(e.message.startsWith(message)).toBe(true);
    }
    expect(caught(() => validateId('x'.repeat(1025))).message).toContain(
      'is 1025 bytes long, the limit is 1024',
    );
  });
});

describe('state store', () => {
  it('creates a locked 0700 directory under a 0711 root and round-trips state', () => {
    const root = join(freshDir('create'), 'root');
    const lock = createContainerDir(root, 'c1');
    try {
      expect(lstatSync(root).mode & 0o777).toBe(0o711);
      expect(lstatSync(join(root, 'c1')).mode & 0o777).toBe(0o700);
      expect(lock.id).toBe('c1');
      expect(lock.path).toBe(join(root, 'c1'));
      expect(lock.readState()).toBeNull();
      expect(lock.readStateJson()).toBeNull();
      const state = {
        ociVersion: '1.3.0',
        id: 'c1',
        status: 'creating',
        pid: 0,
        extra: { a: [1] },
      };
      lock.writeState(state);
      expect(lock.readStateJson()).toEqual(state);
      expect(lock.readState()).toBe(JSON.stringify(state));
      expect(JSON.parse(readFileSync(join(root, 'c1', 'state.json'), 'utf8'))).toEqual(state);
      // JSON text is stored as given.
      const text = '{\n  "id": "c1",\n  "status": "created"\n}';
      lock.writeState(text);
      expect(lock.readState()).toBe(text);
      expect(readStateUnlocked(root, 'c1')).toBe(text);
    } finally {
      lock.unlock();
    }
    expect(lock.held).toBe(false);
    expect(listIds(root)).toEqual(['c1']);
  });

  it('rejects duplicate ids, missing containers and non-object states with stable codes', () => {
    const root = freshDir('codes');
    createContainerDir(root, 'dup').unlock();
    const dup = caught(() => createContainerDir(root, 'dup'));
    expect(dup.code).toBe(NativeErrorCode.EXISTS);
    expect(dup.message).toBe('container "dup" already exists');

    const missing = caught(() => lockContainer(root, 'nope', 0));
    expect(missing.code).toBe(NativeErrorCode.NOT_FOUND);
    expect(missing.message).toBe('container "nope" does not exist');
    expect(caught(() => readStateUnlocked(root, 'nope')).code).toBe(NativeErrorCode.NOT_FOUND);

    const lock = lockContainer(root, 'dup');
    try {
      const bad = caught(() => lock.writeState([1, 2] as unknown as Record<string, unknown>));
      expect(bad.code).toBe(NativeErrorCode.STATE_INVALID);
      const badText = caught(() => lock.writeState('[1,2]'));
      expect(badText.code).toBe(NativeErrorCode.STATE_INVALID);
      expect(badText.message).toBe('state of container "dup": not a JSON object');
      expect(lock.readState()).toBeNull();
      expect(
        caught(() => lock.writeState({ n: 1n } as unknown as Record<string, unknown>)).code,
      ).toBe(NativeErrorCode.STATE_INVALID);
    } finally {
      lock.unlock();
    }
    expect(caught(() => lock.readState()).code).toBe(NativeErrorCode.LOCK_RELEASED);
    expect(caught(() => lockContainer(root, 'dup', -1)).code).toBe(
      NativeErrorCode.INVALID_ARGUMENT,
    );
  });

  it('reports a corrupt state file', () => {
    const root = freshDir('corrupt');
    const lock = createContainerDir(root, 'c');
    try {
      writeFileSync(join(lock.path, 'state.json'), '{"trunc');
      const e = caught(() => lock.readState());
      expect(e.code).toBe(NativeErrorCode.STATE_CORRUPT);
      expect(e.errno).toBe('EBADMSG');
      expect(e.message).toContain('of container "c" is corrupt: not valid JSON');
    } finally {
      lock.unlock();
    }
  });

  it('serialises operations on one id with a timeout, but never across ids', async () => {
    const root = freshDir('contention');
    const holder = createContainerDir(root, 'a');
    createContainerDir(root, 'b').unlock();
    try {
      const started = Date.now();
      const e = caught(() => lockContainer(root, 'a', 120));
      expect(e.code).toBe(NativeErrorCode.LOCKED);
      expect(e.errno).toBe('EAGAIN');
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      lockContainer(root, 'b', 0).unlock();

      // The async variant waits on the pool: timers keep firing meanwhile.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const waiting = lockContainerAsync(root, 'a', 5000);
      await new Promise((r) => setTimeout(r, 150));
      expect(ticks).toBeGreaterThan(3);
      holder.unlock();
      const second = await waiting;
      clearInterval(timer);
      expect(second.held).toBe(true);
      second.unlock();
    } finally {
      holder.unlock();
    }
  });

  it('remove deletes everything and later lockers see NOT_FOUND', async () => {
    const root = freshDir('remove');
    const lock = createContainerDir(root, 'gone');
    lock.writeState({ status: 'stopped' });
    mkfifo(join(lock.path, 'exec.fifo'));
    const waiter = lockContainerAsync(root, 'gone', 5000);
    await new Promise((r) => setTimeout(r, 50));
    lock.remove();
    expect(lock.held).toBe(false);
    expect((await rejected(waiter)).code).toBe(NativeErrorCode.NOT_FOUND);
    expect(existsSync(join(root, 'gone'))).toBe(false);
    expect(listIds(root)).toEqual([]);
  });

  it('withContainerLock releases the lock when the callback throws', async () => {
    const root = freshDir('with');
    createContainerDir(root, 'w').unlock();
    await expect(
      withContainerLock(root, 'w', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const again = lockContainer(root, 'w', 0);
    again.unlock();
  });

  it('lists only valid container directories', () => {
    const root = freshDir('list');
    expect(listIds(join(root, 'absent'))).toEqual([]);
    for (const id of ['z', 'a']) createContainerDir(root, id).unlock();
    writeFileSync(join(root, 'file'), '');
    mkdirSync(join(root, 'not valid'));
    symlinkSync('/', join(root, 'link'));
    expect(listIds(root)).toEqual(['a', 'z']);
  });
});

describe('process liveness and signals', () => {
  it('reads the same start time as /proc', () => {
    expect(processStartTime(process.pid)).toBe(startTimeFromProc(process.pid));
    expect(isAlive(process.pid, processStartTime(process.pid))).toBe(true);
    expect(caught(() => processStartTime(0)).code).toBe(NativeErrorCode.INVALID_ARGUMENT);
  });

  it('never signals a process whose start time differs (pid reuse)', async () => {
    const { child, pid } = track(spawn('sleep', ['30'], { stdio: 'ignore' }));
    const start = processStartTime(pid);
    const e = caught(() => signalProcess(pid, start + 1, 9));
    expect(e.code).toBe(NativeErrorCode.PROCESS_GONE);
    expect(e.message).toContain('(the pid was reused)');
    await new Promise((r) => setTimeout(r, 50));
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
    expect(isAlive(pid, start)).toBe(true);
    expect(isAlive(pid, start + 1)).toBe(false);

    signalProcess(pid, start, 15);
    const [, signal] = await once(child, 'exit');
    expect(signal).toBe('SIGTERM');
    expect(isAlive(pid, start)).toBe(false);
    expect(caught(() => signalProcess(pid, start, 0)).code).toBe(NativeErrorCode.PROCESS_GONE);
    expect(caught(() => signalProcess(pid, start, 65)).code).toBe(NativeErrorCode.INVALID_ARGUMENT);
  });

  it('waitPid reaps orphans adopted as a subreaper', async () => {
    setChildSubreaper();
    const sh = spawn('sh', ['-c', '(sleep 0.2; exit 5) & echo $!'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    track(sh);
    let out = '';
    sh.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await once(sh, 'exit');
    const grandchild = Number(out.trim());
    expect(Number.isInteger(grandchild) && grandchild > 0).toBe(true);
    expect(await waitPid(grandchild)).toEqual({ exitCode: 5, signal: null });
    expect((await rejected(waitPid(1))).code).toBe(NativeErrorCode.NOT_CHILD);
  });
});

describe('exec fifo', () => {
  it('mkfifo sets exactly 0622', () => {
    const path = join(freshDir('fifo'), 'exec.fifo');
    mkfifo(path);
    const st = lstatSync(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o622);
    expect(caught(() => mkfifo(path)).errno).toBe('EEXIST');
  });

  it('releases a created container and removes the fifo (sync and async)', async () => {
    for (const mode of ['sync', 'async'] as const) {
      const fifo = join(freshDir('release'), 'exec.fifo');
      mkfifo(fifo);
      const { pid } = track(
        spawn('sh', ['-c', 'printf 0 > "$1"; exec sleep 30', 'sh', fifo], { stdio: 'ignore' }),
      );
      const start = processStartTime(pid);
      const byte =
        mode === 'sync'
          ? releaseExecFifo(fifo, pid, start, 10_000)
          : await releaseExecFifoAsync(fifo, pid, start, 10_000);
      expect(byte).toBe('0'.charCodeAt(0));
      expect(existsSync(fifo)).toBe(false);
      expect(isAlive(pid, start)).toBe(true);
      signalProcess(pid, start, 9);
    }
  });

  it('fails fast when the container died, times out when it never writes', async () => {
    const fifo = join(freshDir('dead'), 'exec.fifo');
    mkfifo(fifo);
    const dead = track(spawn('sh', ['-c', 'sleep 0.2'], { stdio: 'ignore' }));
    const deadStart = processStartTime(dead.pid);
    const e = await rejected(releaseExecFifoAsync(fifo, dead.pid, deadStart));
    expect(e.code).toBe(NativeErrorCode.EXITED_BEFORE_START);
    expect(e.message).toContain(
      `container process ${dead.pid} exited before it opened the exec fifo`,
    );
    expect(existsSync(fifo)).toBe(true);

    const idle = track(spawn('sleep', ['30'], { stdio: 'ignore' }));
    const t = caught(() => releaseExecFifo(fifo, idle.pid, processStartTime(idle.pid), 150));
    expect(t.code).toBe(NativeErrorCode.TIMEOUT);

    const missing = caught(() =>
      releaseExecFifo(`${fifo}.none`, idle.pid, processStartTime(idle.pid)),
    );
    expect(missing.code).toBe(NativeErrorCode.FIFO_MISSING);
  });
});

describe('seccomp', () => {
  const profile = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [
      { names: ['getcwd', 'no_such_syscall'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      {
        names: ['personality'],
        action: 'SCMP_ACT_ERRNO',
        args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }],
      },
    ],
  };

  it('compiles a profile to whole BPF instructions plus flags', () => {
    const out = compileSeccomp(profile);
    expect(Buffer.isBuffer(out.filter)).toBe(true);
    expect(out.filter.length % 8).toBe(0);
    expect(out.filter.length).toBeGreaterThan(8 * 5);
    expect(out.flags).toBe(2);
    expect(out.skippedSyscalls).toEqual(['no_such_syscall']);
    // The JSON text gives the same program; a different errno a different one.
    expect(compileSeccomp(JSON.stringify(profile)).filter.equals(out.filter)).toBe(true);
    const other = structuredClone(profile);
    other.syscalls[0] = { ...profile.syscalls[0], errnoRet: 1 } as (typeof profile.syscalls)[0];
    expect(compileSeccomp(other).filter.equals(out.filter)).toBe(false);
  });

  it('rejects unknown values naming the JSON path', () => {
    const bad = structuredClone(profile) as { syscalls: Array<Record<string, unknown>> };
    bad.syscalls.push({ names: ['read'], action: 'SCMP_ACT_FOO' });
    const e = caught(() => compileSeccomp(bad));
    expect(e.code).toBe(NativeErrorCode.SECCOMP_INVALID);
    expect(
      e.message.startsWith('linux.seccomp.syscalls[2].action: unknown action "SCMP_ACT_FOO"'),
    ).toBe(true);
    const op = caught(() =>
      compileSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: 1, op: 'EQ' }] },
        ],
      }),
    );
    expect(
      op.message.startsWith('linux.seccomp.syscalls[0].args[0].op: unknown operator "EQ"'),
    ).toBe(true);
    expect(caught(() => compileSeccomp('{')).code).toBe(NativeErrorCode.SECCOMP_INVALID);
    const notify = caught(() =>
      compileSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/agent.sock' }),
    );
    expect(notify.code).toBe(NativeErrorCode.SECCOMP_UNSUPPORTED);
    expect(notify.message).toContain('SCMP_ACT_NOTIFY is not supported yet');
  });

  it('exposes tables that agree with the spec package and with the compiler', () => {
    const t = seccompTables();
    expect(t.knownActions).toEqual([...SECCOMP_ACTIONS]);
    expect([...t.operators].sort()).toEqual([...SECCOMP_OPERATORS].sort());
    expect([...t.knownArchs].sort()).toEqual([...SECCOMP_ARCHES].sort());
    expect(t.knownFlags).toEqual([...SECCOMP_FLAGS]);
    expect(t.supportedActions).not.toContain('SCMP_ACT_NOTIFY');
    expect(t.supportedArchs).toContain(t.nativeArch);
    expect(t.supportedFlags).toContain('SECCOMP_FILTER_FLAG_TSYNC');
    for (const action of t.supportedActions) {
      compileSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['getpid'], action }],
      });
    }
    for (const arch of t.knownArchs) {
      const compile = () =>
        compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [arch] });
      if (t.supportedArchs.includes(arch)) compile();
      else expect(caught(compile).code).toBe(NativeErrorCode.SECCOMP_UNSUPPORTED);
    }
  });
});

describe('fd passing', () => {
  it('receives exactly one fd with its name', async () => {
    const dir = freshDir('sock');
    const sock = join(dir, 'console.sock');
    const listenFd = listenUnix(sock);
    const file = join(dir, 'target');
    writeFileSync(file, '');
    const fd = openSync(file, 'w');
    try {
      const receiving = acceptRecvFd(listenFd, 5000);
      sendFd(sock, fd, '/dev/pts/3');
      const got = await receiving;
      expect(got.name).toBe('/dev/pts/3');
      expect(got.fd).not.toBe(fd);
      writeSync(got.fd, 'through the passed fd');
      closeFd(got.fd);
      expect(readFileSync(file, 'utf8')).toBe('through the passed fd');

      const timeout = await rejected(acceptRecvFd(listenFd, 100));
      expect(timeout.code).toBe(NativeErrorCode.TIMEOUT);
    } finally {
      closeSync(fd);
      closeFd(listenFd);
    }
    expect(caught(() => listenUnix(sock)).errno).toBe('EADDRINUSE');
    expect(caught(() => closeFd(1)).code).toBe(NativeErrorCode.INVALID_ARGUMENT);
    const long = caught(() => listenUnix(join(dir, 's'.repeat(120))));
    expect(long.code).toBe(NativeErrorCode.INVALID_ARGUMENT);
    expect(long.message).toContain('longer than the 107-byte limit');
  });
});

describe('terminal size', () => {
  it('refuses fds that are not terminals and sizes out of range', () => {
    const [r, w] = makePipe();
    try {
      const notTty = caught(() => setWindowSize(r, 80, 24));
      expect(notTty.errno).toBe('ENOTTY');
      expect(notTty.code).toBe(NativeErrorCode.SYSTEM);
      expect(caught(() => getWindowSize(w)).errno).toBe('ENOTTY');
    } finally {
      closeFd(r);
      closeFd(w);
    }
    expect(caught(() => setWindowSize(-1, 80, 24)).code).toBe(NativeErrorCode.INVALID_ARGUMENT);
    expect(caught(() => setWindowSize(3, 0, 24)).code).toBe(NativeErrorCode.INVALID_ARGUMENT);
    expect(caught(() => setWindowSize(3, 80, 70_000)).code).toBe(NativeErrorCode.INVALID_ARGUMENT);
  });
});
