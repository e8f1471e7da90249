import {
  CONTAINER_STATUSES,
  type Config,
  HOOK_NAMES,
  type Hook,
  type HookName,
  parseConfig,
  type State,
} from '@ts-oci/spec';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  HOOK_KIND_NAMES,
  HOOK_KINDS,
  type HookKind,
  type HookSpec,
  type HookState,
  runHooks,
} from '../src/index.js';

describe('fits @ts-oci/spec', () => {
  it('accepts the spec types where it takes hooks and state (checked by tsc)', () => {
    expectTypeOf<Hook>().toExtend<HookSpec>();
    expectTypeOf<State>().toExtend<HookState>();
    expectTypeOf<NonNullable<NonNullable<Config['hooks']>['poststop']>>().toExtend<
      readonly HookSpec[] | undefined
    >();
    expectTypeOf<HookName>().toEqualTypeOf<HookKind>();
  });

  it('knows exactly the kinds the spec package knows, in lifecycle order', () => {
    expect([...HOOK_KIND_NAMES]).toEqual([...HOOK_NAMES]);
  });

  it('only uses statuses the state schema allows', () => {
    for (const k of HOOK_KIND_NAMES) {
      expect(CONTAINER_STATUSES as readonly string[]).toContain(HOOK_KINDS[k].status);
    }
  });

  it('runs hooks straight from a parsed config.json', async () => {
    const config = parseConfig(
      JSON.stringify({
        ociVersion: '1.3.0',
        root: { path: 'rootfs' },
        hooks: { poststop: [{ path: '/bin/busybox', args: ['true'], env: ['A=b'], timeout: 5 }] },
      }),
    );
    const state: State = {
      ociVersion: '1.3.0',
      id: 'c1',
      status: 'stopped',
      bundle: '/',
    };

    const results = await runHooks('poststop', config.hooks?.poststop, state);

    expect(results.map((r) => r.ok)).toEqual([true]);
  });
});
