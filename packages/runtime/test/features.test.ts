import { cgroupFeatures } from '@ts-oci/cgroups';
import { HOOK_KIND_NAMES } from '@ts-oci/hooks';
import { MOUNT_OPTIONS } from '@ts-oci/rootfs';
import { parseFeatures } from '@ts-oci/spec';
import { describe, expect, it } from 'vitest';
import { features } from '../src/index.js';
import { seccompTables } from '../src/native.js';

describe('features', async () => {
  const doc = await features();

  it('is a valid features document with honest version bounds', () => {
    expect(parseFeatures(doc)).toEqual(doc);
    expect(doc.ociVersionMin).toBe('1.0.0');
    expect(doc.ociVersionMax).toBe('1.3.0');
  });

  it('lists exactly what the code tables implement', () => {
    expect(doc.hooks).toEqual([...HOOK_KIND_NAMES]);
    expect(new Set(doc.mountOptions)).toEqual(new Set(Object.keys(MOUNT_OPTIONS)));
    expect(doc.linux?.cgroup).toEqual(cgroupFeatures());
    expect(doc.linux?.namespaces).toEqual([
      'cgroup',
      'ipc',
      'mount',
      'network',
      'pid',
      'time',
      'user',
      'uts',
    ]);
    const t = seccompTables();
    expect(doc.linux?.seccomp?.actions).toEqual(t.supportedActions);
    expect(doc.linux?.seccomp?.actions).not.toContain('SCMP_ACT_NOTIFY');
    expect(doc.linux?.seccomp?.archs).toContain('SCMP_ARCH_X86_64');
  });

  it('claims nothing tsoci lacks: no idmap mounts, LSMs, RDT or net devices, no systemd driver', () => {
    expect(doc.linux?.mountExtensions?.idmap?.enabled).toBe(false);
    expect(doc.linux?.apparmor?.enabled).toBe(false);
    expect(doc.linux?.selinux?.enabled).toBe(false);
    expect(doc.linux?.intelRdt?.enabled).toBe(false);
    expect(doc.linux?.cgroup?.systemd).toBe(false);
    expect(doc.mountOptions).not.toContain('idmap');
    expect(doc.mountOptions).not.toContain('tmpcopyup');
  });

  it('lists only capabilities this kernel knows, in kernel order', () => {
    const caps = doc.linux?.capabilities ?? [];
    expect(caps[0]).toBe('CAP_CHOWN');
    expect(caps).toContain('CAP_SYS_ADMIN');
    expect(new Set(caps).size).toBe(caps.length);
  });
});
