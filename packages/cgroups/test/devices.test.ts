import { describe, expect, it } from 'vitest';
import {
  classifyDeviceRules,
  DEFAULT_ALLOWED_DEVICES,
  normalizeDeviceRule,
  v1DeviceLines,
} from '../src/devices.js';

describe('normalizeDeviceRule', () => {
  it('fills the spec defaults: type a, wildcards, rwm', () => {
    expect(normalizeDeviceRule({ allow: false })).toEqual({
      allow: false,
      type: 'a',
      major: '*',
      minor: '*',
      access: 'rwm',
    });
    expect(
      normalizeDeviceRule({ allow: true, type: 'c', major: 1, minor: -1, access: 'wr' }),
    ).toEqual({
      allow: true,
      type: 'c',
      major: 1,
      minor: '*',
      access: 'rw',
    });
  });
});

describe('v1DeviceLines', () => {
  it('a full catch-all is "a"; a narrower type-a rule splits into c and b', () => {
    expect(v1DeviceLines(normalizeDeviceRule({ allow: false, access: 'rwm' }))).toEqual(['a']);
    expect(v1DeviceLines(normalizeDeviceRule({ allow: false, access: 'm' }))).toEqual([
      'c *:* m',
      'b *:* m',
    ]);
    expect(
      v1DeviceLines(
        normalizeDeviceRule({ allow: true, type: 'b', major: 8, minor: 0, access: 'r' }),
      ),
    ).toEqual(['b 8:0 r']);
  });
});

describe('classifyDeviceRules', () => {
  const denyAll = { allow: false, access: 'rwm' };

  it('recognises the default set (deny all + runc defaults, or a subset of them)', () => {
    expect(classifyDeviceRules([denyAll, ...DEFAULT_ALLOWED_DEVICES])).toBe('default');
    expect(classifyDeviceRules([denyAll])).toBe('default');
    expect(
      classifyDeviceRules([denyAll, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }]),
    ).toBe('default');
    expect(
      classifyDeviceRules([
        denyAll,
        { allow: true, type: 'c', major: 136, minor: 4, access: 'rw' },
      ]),
    ).toBe('default');
  });

  it('anything beyond it is custom', () => {
    expect(
      classifyDeviceRules([denyAll, { allow: true, type: 'b', major: 8, minor: 0, access: 'rw' }]),
    ).toBe('custom');
    expect(
      classifyDeviceRules([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]),
    ).toBe('custom');
    expect(
      classifyDeviceRules([
        { allow: true, access: 'rwm' },
        { allow: false, type: 'c', major: 1, minor: 3 },
      ]),
    ).toBe('custom');
    expect(classifyDeviceRules([denyAll, { allow: false, type: 'c', major: 1, minor: 3 }])).toBe(
      'custom',
    );
  });

  it('no rules and allow-all need no enforcement', () => {
    expect(classifyDeviceRules([])).toBe('none');
    expect(classifyDeviceRules([{ allow: true, access: 'rwm' }])).toBe('allow-all');
    expect(
      classifyDeviceRules([
        denyAll,
        { allow: true },
        { allow: true, type: 'c', major: 1, minor: 3 },
      ]),
    ).toBe('allow-all');
  });
});
