import { describe, expect, it } from 'vitest';
import { HOOK_KIND_NAMES, HOOK_KINDS, isHookKind } from '../src/index.js';

describe('HOOK_KINDS', () => {
  it('lists the six runtime-spec kinds in lifecycle order', () => {
    expect(HOOK_KIND_NAMES).toEqual([
      'prestart',
      'createRuntime',
      'createContainer',
      'startContainer',
      'poststart',
      'poststop',
    ]);
    for (const name of HOOK_KIND_NAMES) expect(HOOK_KINDS[name].name).toBe(name);
  });

  it('places each kind in the namespace config.md names', () => {
    const where = Object.fromEntries(
      HOOK_KIND_NAMES.map((k) => [k, [HOOK_KINDS[k].namespace, HOOK_KINDS[k].pathResolvesIn]]),
    );
    expect(where).toEqual({
      prestart: ['runtime', 'runtime'],
      createRuntime: ['runtime', 'runtime'],
      createContainer: ['container', 'runtime'],
      startContainer: ['container', 'container'],
      poststart: ['runtime', 'runtime'],
      poststop: ['runtime', 'runtime'],
    });
  });

  it('gives the state status each kind sees', () => {
    const status = Object.fromEntries(HOOK_KIND_NAMES.map((k) => [k, HOOK_KINDS[k].status]));
    expect(status).toEqual({
      prestart: 'creating',
      createRuntime: 'creating',
      createContainer: 'creating',
      startContainer: 'created',
      poststart: 'running',
      poststop: 'stopped',
    });
  });

  it('makes every kind fatal except poststop (runtime.md v1.3.0 lifecycle)', () => {
    const fatal = HOOK_KIND_NAMES.filter((k) => HOOK_KINDS[k].fatal);
    expect(fatal).toEqual([
      'prestart',
      'createRuntime',
      'createContainer',
      'startContainer',
      'poststart',
    ]);
    for (const k of HOOK_KIND_NAMES) {
      expect(HOOK_KINDS[k].onFailure).toBe(HOOK_KINDS[k].fatal ? 'error' : 'warn');
    }
  });

  it('marks only prestart deprecated', () => {
    expect(HOOK_KIND_NAMES.filter((k) => HOOK_KINDS[k].deprecated)).toEqual(['prestart']);
  });

  it('recognises kind names', () => {
    expect(isHookKind('poststop')).toBe(true);
    expect(isHookKind('toString')).toBe(false);
    expect(isHookKind('prestop')).toBe(false);
    expect(isHookKind(1)).toBe(false);
  });
});
