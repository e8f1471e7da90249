import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  listNamespaces,
  NAMESPACE_KINDS,
  NamespaceError,
  namespaceOf,
  sameNamespace,
} from '../src/index.js';

function caught(fn: () => unknown): NamespaceError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NamespaceError) return e;
    throw e;
  }
  throw new Error('expected a NamespaceError, nothing was thrown');
}

const procName = (k: string) => (k === 'mount' ? 'mnt' : k === 'network' ? 'net' : k);

describe('namespaceOf (native)', () => {
  it('matches stat() of /proc/self/ns/<kind> for every kind', () => {
    for (const kind of NAMESPACE_KINDS) {
      const st = statSync(`/proc/self/ns/${procName(kind)}`);
      const id = namespaceOf('self', kind);
      expect(id).toEqual({ kind, dev: st.dev, inode: st.ino });
    }
  });

  it('sees a child in a new UTS and mount namespace as different, and the rest as shared', async () => {
    const child = spawn('unshare', ['--uts', '--mount', 'sleep', '5'], { stdio: 'ignore' });
    try {
      // unshare execs sleep after unsharing; wait until the namespace differs or time out.
      const pid = child.pid ?? 0;
      let uts = namespaceOf(pid, 'uts');
      for (let i = 0; i < 100 && sameNamespace(uts, namespaceOf('self', 'uts')); i++) {
        await new Promise((r) => setTimeout(r, 10));
        uts = namespaceOf(pid, 'uts');
      }
      expect(sameNamespace(uts, namespaceOf('self', 'uts'))).toBe(false);
      expect(sameNamespace(namespaceOf(pid, 'mount'), namespaceOf('self', 'mount'))).toBe(false);
      expect(sameNamespace(namespaceOf(pid, 'network'), namespaceOf('self', 'network'))).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  it('lists every kind with distinct identities', () => {
    const all = listNamespaces(process.pid);
    expect(all.map((n) => n.kind)).toEqual([...NAMESPACE_KINDS]);
    expect(new Set(all.map((n) => n.inode)).size).toBe(all.length);
  });

  it('reports bad input and a missing process with typed errors naming them', () => {
    const unknownKind = caught(() => namespaceOf('self', 'net' as never));
    expect(unknownKind).toBeInstanceOf(NamespaceError);
    expect(unknownKind.message).toBe('unknown namespace kind "net"');
    expect(unknownKind.errno).toBe('EINVAL');

    const missing = caught(() => namespaceOf(4_000_000_000, 'network'));
    expect(missing.message).toMatch(
      /^namespace network of pid 4000000000: \/proc\/4000000000\/ns\/net: No such file/,
    );
    expect(missing.errno).toBe('ENOENT');
    expect(missing.code).toBe('ENS_INSPECT');

    expect(caught(() => listNamespaces(4_000_000_000)).errno).toBe('ENOENT');
    expect(caught(() => listNamespaces(-1)).message).toBe(
      'invalid pid -1: expected a positive integer',
    );
  });
});
