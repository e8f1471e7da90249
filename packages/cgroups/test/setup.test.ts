import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CGROUP_ERROR_CODES, CgroupError } from '../src/errors.js';
import { cgroupManagerFromPaths, createCgroupManager } from '../src/factory.js';
import { cgroupFeatures } from '../src/features.js';
import type { CgroupPaths } from '../src/manager.js';
import {
  cgroupLocation,
  cleanCgroupPath,
  getCgroupSetup,
  parseMountinfo,
  parseProcCgroup,
} from '../src/setup.js';

// This machine's layout (hybrid): v1 controllers plus cgroup2 at unified/.
function hybridMountinfo(root: string): string {
  const v1 = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
  const lines = [
    '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
    `30 22 0:26 / ${root} rw,relatime shared:7 - tmpfs tmpfs rw,mode=755`,
    ...v1.map(
      (c, i) =>
        `${40 + i} 30 0:${40 + i} / ${root}/${c} rw,relatime shared:${10 + i} - cgroup cgroup rw,${c}`,
    ),
    `60 30 0:60 / ${root}/systemd rw,relatime shared:30 - cgroup cgroup rw,xattr,name=systemd`,
    `61 30 0:61 / ${root}/unified rw,relatime shared:31 - cgroup2 cgroup2 rw`,
  ];
  return `${lines.join('\n')}\n`;
}

let base: string;
let root: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tsoci-cgsetup-'));
  root = join(base, 'cg');
  await mkdir(join(root, 'unified'), { recursive: true });
  await writeFile(join(root, 'unified', 'cgroup.controllers'), 'hugetlb\n');
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('parseMountinfo', () => {
  it('reads fields around the optional ones and unescapes octal escapes', () => {
    const [m] = parseMountinfo(
      '36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 shared:2 - cgroup cgroup rw,cpu,cpuacct\n',
    );
    expect(m).toEqual({
      mountRoot: '/mnt1',
      mountpoint: '/mnt two',
      fstype: 'cgroup',
      superOptions: ['rw', 'cpu', 'cpuacct'],
    });
    expect(parseMountinfo('garbage\n\n')).toEqual([]);
  });
});

describe('getCgroupSetup', () => {
  it('hybrid: v1 controllers plus the cgroup2 mount and its controllers', async () => {
    const s = await getCgroupSetup(root, hybridMountinfo(root));
    expect(s.mode).toBe('hybrid');
    expect(s.v1.map((h) => h.controllers.join(','))).toEqual([
      'cpu',
      'cpuacct',
      'cpuset',
      'memory',
      'devices',
      'freezer',
      'blkio',
      'pids',
      'name=systemd',
    ]);
    expect(s.unified).toEqual({
      mountpoint: `${root}/unified`,
      mountRoot: '/',
      controllers: ['hugetlb'],
    });
  });

  it('pure v2: cgroup2 at the root', async () => {
    const s = await getCgroupSetup(
      root,
      `1 0 0:1 / ${root}/unified rw - cgroup2 cgroup2 rw,nsdelegate\n`,
    );
    expect(s.mode).toBe('v2');
    expect(s.v1).toEqual([]);
  });

  it('pure v1, co-mounted controllers and duplicate mounts counted once', async () => {
    const text = [
      `1 0 0:1 / ${root}/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct`,
      `2 0 0:1 / ${root}/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu`,
      `3 0 0:2 / ${root}/memory rw - cgroup cgroup rw,memory,clone_children`,
      `4 0 0:2 / /elsewhere/memory rw - cgroup cgroup rw,memory`,
    ].join('\n');
    const s = await getCgroupSetup(root, text);
    expect(s.mode).toBe('v1');
    expect(s.v1.map((h) => [h.mountpoint, h.controllers])).toEqual([
      [`${root}/cpu,cpuacct`, ['cpu', 'cpuacct']],
      [`${root}/memory`, ['memory']],
    ]);
  });

  it('no cgroup mount at all is ECGROUP_NO_CGROUPFS', async () => {
    await expect(getCgroupSetup(root, '1 0 0:1 / / rw - ext4 /dev/vda rw\n')).rejects.toMatchObject(
      {
        code: CGROUP_ERROR_CODES.NO_CGROUPFS,
      },
    );
  });

  it('reads the real machine (whatever it is) without failing', async () => {
    const s = await getCgroupSetup();
    expect(['v1', 'v2', 'hybrid']).toContain(s.mode);
  });
});

describe('parseProcCgroup', () => {
  it('maps every v1 controller and the unified line', () => {
    const p = parseProcCgroup(
      '9:name=systemd:/\n4:memory:/process_api/x\n2:cpu,cpuacct:/a:b\n0::/user.slice\n',
    );
    expect(p.v1.get('memory')).toBe('/process_api/x');
    expect(p.v1.get('cpuacct')).toBe('/a:b');
    expect(p.v1.get('name=systemd')).toBe('/');
    expect(p.unified).toBe('/user.slice');
  });
});

describe('cgroupsPath rules', () => {
  it('cleans like runc: relative paths cannot climb', () => {
    expect(cleanCgroupPath('/a/../b/./c')).toBe('/b/c');
    expect(cleanCgroupPath('../../etc/x')).toBe('etc/x');
    expect(cleanCgroupPath('a//b/')).toBe('a/b');
  });

  it('default is the relative path <id>; the root or own cgroup is refused', () => {
    expect(cgroupLocation(undefined, 'abc')).toEqual({ absolute: false, inner: 'abc' });
    expect(cgroupLocation('', 'abc')).toEqual({ absolute: false, inner: 'abc' });
    expect(cgroupLocation('/x/y', 'abc')).toEqual({ absolute: true, inner: '/x/y' });
    for (const bad of ['/', '/..', '.', '..']) {
      expect(() => cgroupLocation(bad, 'abc')).toThrow(CgroupError);
    }
    expect(() => cgroupLocation(undefined, 'a/b')).toThrow(
      /container id "a\/b" cannot name a cgroup/,
    );
  });

  const self = '8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/init.scope\n';

  it('hybrid: absolute under each mount, relative under our own cgroup per hierarchy', async () => {
    const mountinfo = hybridMountinfo(root);
    const abs = await createCgroupManager({
      id: 'c1',
      cgroupsPath: '/tsoci/c1',
      root,
      mountinfo,
      procSelfCgroup: self,
    });
    const p = abs.paths();
    expect(p.version).toBe(1);
    expect(p.paths.memory).toBe(`${root}/memory/tsoci/c1`);
    expect(p.paths.pids).toBe(`${root}/pids/tsoci/c1`);
    expect(p.paths['name=systemd']).toBe(`${root}/systemd/tsoci/c1`);
    expect(p.paths.unified).toBe(`${root}/unified/tsoci/c1`);
    expect(p.mounts.memory).toBe(`${root}/memory`);

    const def = (
      await createCgroupManager({ id: 'c1', root, mountinfo, procSelfCgroup: self })
    ).paths();
    expect(def.paths.memory).toBe(`${root}/memory/process_api/abc/c1`);
    expect(def.paths.pids).toBe(`${root}/pids/c1`);
    // Hybrid: the unified side uses our own cgroup, as runc does there.
    expect(def.paths.unified).toBe(`${root}/unified/init.scope/c1`);

    const rel = (
      await createCgroupManager({
        id: 'c1',
        cgroupsPath: 'pods/../../c2',
        root,
        mountinfo,
        procSelfCgroup: self,
      })
    ).paths();
    expect(rel.paths.cpu).toBe(`${root}/cpu/c2`);
  });

  it('pure v2: relative paths go below the parent of our own cgroup', async () => {
    const mountinfo = `1 0 0:1 / ${root}/unified rw - cgroup2 cgroup2 rw\n`;
    const m = await createCgroupManager({
      id: 'c1',
      root,
      mountinfo,
      procSelfCgroup: '0::/user.slice/user-0.slice/session-1.scope\n',
    });
    expect(m.version).toBe(2);
    expect(m.paths().paths).toEqual({ unified: `${root}/unified/user.slice/user-0.slice/c1` });
  });

  it('a mount whose root is not "/" maps our own cgroup into it', async () => {
    const mountinfo = `1 0 0:1 /docker/abc ${root}/unified rw - cgroup2 cgroup2 rw\n`;
    const m = await createCgroupManager({
      id: 'c1',
      root,
      mountinfo,
      procSelfCgroup: '0::/docker/abc/init\n',
    });
    expect(m.paths().paths.unified).toBe(`${root}/unified/c1`);
    const outside = await createCgroupManager({
      id: 'c1',
      root,
      mountinfo,
      procSelfCgroup: '0::/other\n',
    });
    expect(outside.paths().paths.unified).toBe(`${root}/unified/c1`);
  });
});

describe('systemd driver', () => {
  it('--systemd-cgroup is refused with a stable code and a clear message', async () => {
    const err = await createCgroupManager({ id: 'x', systemd: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CgroupError);
    expect((err as CgroupError).code).toBe('ECGROUP_SYSTEMD_UNSUPPORTED');
    expect((err as CgroupError).message).toMatch(
      /^--systemd-cgroup: the systemd cgroup driver is not supported/,
    );
    expect(() => cgroupManagerFromPaths({ driver: 'systemd' } as unknown as CgroupPaths)).toThrow(
      /systemd cgroup driver is not supported/,
    );
  });

  it('features report what is implemented', () => {
    expect(cgroupFeatures()).toEqual({
      v1: true,
      v2: true,
      systemd: false,
      systemdUser: false,
      rdma: true,
    });
  });
});

describe('cgroupManagerFromPaths', () => {
  it('rebuilds v1 hierarchies, grouping co-mounted controllers', () => {
    const m = cgroupManagerFromPaths({
      driver: 'cgroupfs',
      version: 1,
      paths: {
        cpu: '/cg/cpu,cpuacct/x',
        cpuacct: '/cg/cpu,cpuacct/x',
        memory: '/cg/memory/x',
        unified: '/cg/unified/x',
      },
      mounts: {
        cpu: '/cg/cpu,cpuacct',
        cpuacct: '/cg/cpu,cpuacct',
        memory: '/cg/memory',
        unified: '/cg/unified',
      },
      created: [],
    });
    expect(m.version).toBe(1);
    expect(m.paths().paths).toEqual({
      cpu: '/cg/cpu,cpuacct/x',
      cpuacct: '/cg/cpu,cpuacct/x',
      memory: '/cg/memory/x',
      unified: '/cg/unified/x',
    });
  });

  it('refuses documents that would point outside a hierarchy', () => {
    const doc = (paths: Record<string, string>, mounts: Record<string, string>) =>
      ({ driver: 'cgroupfs', version: 1, paths, mounts, created: [] }) as CgroupPaths;
    for (const [paths, mounts] of [
      [{ memory: '/cg/memory' }, { memory: '/cg/memory' }],
      [{ memory: '/etc' }, { memory: '/cg/memory' }],
      [{ memory: '/cg/memory/../x' }, { memory: '/cg/memory' }],
      [{ memory: 'rel' }, { memory: '/cg/memory' }],
      [{ memory: '/cg/memory/x' }, {}],
    ] as const) {
      expect(() => cgroupManagerFromPaths(doc(paths, mounts))).toThrow(
        expect.objectContaining({ code: CGROUP_ERROR_CODES.BAD_PATHS }),
      );
    }
    expect(() =>
      cgroupManagerFromPaths({ driver: 'cgroupfs', version: 3 } as unknown as CgroupPaths),
    ).toThrow(/unknown version 3/);
  });
});
