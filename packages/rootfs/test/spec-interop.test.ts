import { type Config, defaultConfig, parseConfig, type SpecIssue } from '@ts-oci/spec';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  buildRootfsPlan,
  type RootfsConfig,
  type RootfsIssue,
  type RootfsPlanOptions,
  validateRootfs,
} from '../src/index.js';
import { BUNDLE, fixture, plan } from './helpers.js';

describe('@ts-oci/spec interop', () => {
  it('accepts a spec Config without casts', () => {
    expectTypeOf<Config>().toExtend<RootfsConfig>();
    expectTypeOf(buildRootfsPlan).parameter(0).toEqualTypeOf<RootfsConfig>();
    expectTypeOf<RootfsIssue>().toExtend<SpecIssue>();
    expectTypeOf<{
      bundleDir: string;
      noPivot: boolean | undefined;
    }>().toExtend<RootfsPlanOptions>();
  });

  it('the `tsoci spec` default plans exactly like the `runc spec` fixture', () => {
    const config: Config = defaultConfig();
    expect(validateRootfs(config, { bundleDir: BUNDLE })).toEqual([]);
    expect(buildRootfsPlan(config, { bundleDir: BUNDLE })).toEqual(plan(fixture('runc-spec.json')));
  });

  it('the rootless default plans like `runc spec --rootless`', () => {
    const config = defaultConfig({ rootless: true, uid: 0, gid: 0 });
    expect(buildRootfsPlan(config, { bundleDir: BUNDLE })).toEqual(
      plan(fixture('runc-spec-rootless.json')),
    );
  });

  it('a parsed config.json plans like the raw one', () => {
    const raw = fixture('runc-spec.json');
    expect(buildRootfsPlan(parseConfig(raw), { bundleDir: BUNDLE })).toEqual(plan(raw));
  });
});
