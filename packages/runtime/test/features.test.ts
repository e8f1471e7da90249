import { readFileSync } from 'node:fs';
import { cgroupFeatures } from '@ts-oci/cgroups';
import { HOOK_KIND_NAMES } from '@ts-oci/hooks';
import { MOUNT_OPTIONS } from '@ts-oci/rootfs';
import { parseFeatures } from '@ts-oci/spec';
import { describe, expect, it } from 'vitest';
import { applyHostFacts, lastCapFromText } from '../src/features.js';
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

  it('is its template with the host facts in their places', async () => {
    const t = await features.template();
    const d = t.document;
    // The host facts, and only they, are null in the template (the native
    // front end checks the same four places).
    expect(d.linux.capabilities).toBeNull();
    expect(d.linux.seccomp.archs).toBeNull();
    expect(d.linux.seccomp.supportedFlags).toBeNull();
    expect(d.annotations).toEqual({ 'io.github.seccomp.libseccomp.version': null });
    const nulls: string[] = [];
    const walk = (v: unknown, at: string): void => {
      if (v === null) nulls.push(at);
      else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${at}/${k}`);
    };
    walk(d, '');
    expect(nulls).toHaveLength(4);
    expect(t.capabilities[0]).toEqual(['CAP_CHOWN', 0]);
    expect(t.capabilities.map(([, n]) => n)).toEqual(t.capabilities.map((_, i) => i));

    const s = seccompTables();
    const facts = {
      capLastCap: lastCapFromText(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')),
      seccompArchs: s.supportedArchs,
      seccompSupportedFlags: s.supportedFlags,
      libseccompVersion: s.libseccompVersion,
    };
    // Same keys in the same order: the CLI prints the object as it is.
    expect(JSON.stringify(applyHostFacts(t, facts), null, 4)).toBe(JSON.stringify(doc, null, 4));
    const older = applyHostFacts(t, { ...facts, capLastCap: 37 });
    expect(older.linux?.capabilities?.at(-1)).toBe('CAP_AUDIT_READ');
    expect(t.document.linux.capabilities, 'the template is not changed').toBeNull();
  });

  it('reads cap_last_cap by one rule (the native front end has the same cases)', () => {
    expect(lastCapFromText('40\n')).toBe(40);
    expect(lastCapFromText('37')).toBe(37);
    expect(lastCapFromText('0\n\n')).toBe(0);
    // Anything else: the table's highest number (CAP_CHECKPOINT_RESTORE), every capability.
    for (const bad of [undefined, '', '\n', ' 38', '38 ', '3a', '-1', '1.5']) {
      expect(lastCapFromText(bad), JSON.stringify(bad)).toBe(40);
    }
  });
});
