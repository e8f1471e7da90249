/**
 * The string formats written as small parsers (src/internal/formats.ts),
 * against their RFCs and against ajv-formats, which the drift test uses as
 * the schemas' "format" oracle.
 */
import { fullFormats } from 'ajv-formats/dist/formats.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareSemver,
  isBase64,
  isRfc3339DateTime,
  isSemver,
  isUri,
} from '../src/internal/formats.js';
import { FUZZ_SEED } from './helpers/mutate.js';

const ajvUri = fullFormats.uri as (text: string) => boolean;
const ajvDateTime = (fullFormats['date-time'] as { validate: (text: string) => boolean }).validate;

/** Strings assembled from tokens that matter to a grammar, so that near misses are frequent. */
function tokens(parts: readonly string[], maxLength: number) {
  return fc.array(fc.constantFrom(...parts), { maxLength }).map((a) => a.join(''));
}

describe('SemVer 2.0.0', () => {
  it('accepts versions and rejects near misses', () => {
    for (const v of [
      '0.0.0',
      '1.3.0',
      '0.5.0-dev',
      '1.0.2-rc.1+build.5',
      '1.0.0-x-y.0',
      '1.0.0+001',
    ]) {
      expect(isSemver(v), v).toBe(true);
    }
    for (const v of [
      '1.0',
      'v1.0.0',
      '01.0.0',
      '1.0.0-01',
      '1.0.0-',
      '1.0.0+',
      '1.0.0-a..b',
      '1.0.0 ',
      '',
    ]) {
      expect(isSemver(v), v).toBe(false);
    }
  });

  it('orders versions by precedence (semver.org section 11)', () => {
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.3.0',
      '1.10.0',
      '99999999999999999999.0.0',
    ];
    for (let i = 0; i < ordered.length - 1; i++) {
      expect(
        compareSemver(ordered[i] as string, ordered[i + 1] as string),
        `${ordered[i]} < ${ordered[i + 1]}`,
      ).toBeLessThan(0);
      expect(compareSemver(ordered[i + 1] as string, ordered[i] as string)).toBeGreaterThan(0);
    }
    expect(compareSemver('1.0.0+a', '1.0.0+b')).toBe(0);
  });
});

describe('RFC 3339 date-time', () => {
  it('follows section 5.6', () => {
    for (const v of [
      '2015-10-31T22:22:56.015925234Z',
      '2016-02-29t00:00:00z',
      '2015-12-31T23:59:60Z',
      '2016-01-01T00:59:60+01:00',
    ]) {
      expect(isRfc3339DateTime(v), v).toBe(true);
    }
    for (const v of [
      '2015-02-29T00:00:00Z',
      '2015-10-31T22:22:56',
      '2015-10-31T24:00:00Z',
      '2015-10-31T22:22:60Z',
      '2015-10-31',
      '2015-10-31T22:22:56+0100',
    ]) {
      expect(isRfc3339DateTime(v), v).toBe(false);
    }
  });

  it('agrees with ajv-formats except where ajv-formats is looser than the RFC', () => {
    const parts = [
      '2015',
      '2016',
      '-',
      '02',
      '10',
      '12',
      '29',
      '31',
      'T',
      't',
      ' ',
      '22',
      '23',
      ':',
      '59',
      '60',
      '.5',
      'Z',
      'z',
      '+01:00',
      '-01:00',
      '+0100',
      '+01',
      '00',
    ];
    fc.assert(
      fc.property(tokens(parts, 12), (text) => {
        const ours = isRfc3339DateTime(text);
        if (ours === ajvDateTime(text)) return;
        // The only differences: ajv-formats also takes a whitespace separator and offsets without a colon.
        expect(ours).toBe(false);
        expect(/^\d{4}-\d\d-\d\d\s/.test(text) || /[+-]\d\d(\d\d)?$/.test(text)).toBe(true);
      }),
      { numRuns: 20000, seed: FUZZ_SEED },
    );
    expect(ajvDateTime('2015-10-31 22:22:56+0100')).toBe(true);
  });
});

describe('RFC 3986 URI', () => {
  it('follows the grammar', () => {
    for (const v of [
      'https://example.com/a?b#c',
      'http://[::1]:5000/v2/',
      'http://[v1.fe]/',
      'http://u:p@h:1/%20',
      'urn:isbn:0451450523',
      'file:///etc/x',
      'http://1.2.3.4/',
    ]) {
      expect(isUri(v), v).toBe(true);
    }
    for (const v of [
      'example.com',
      'x:',
      'https://exa mple.com',
      'http://h/%zz',
      'http://[1::2::3]/',
      'http://h:80a/',
      'http://[::1.02.3.4]/',
      '1http://x',
      'http://a@b@c/',
    ]) {
      expect(isUri(v), v).toBe(false);
    }
  });

  it('agrees with ajv-formats except for its authority shortcut', () => {
    const parts = [
      ..."ab:/?#[]@!$&'()*+,;=-._~%09AFvV ",
      '::',
      '//',
      'http://',
      '[::1]',
      '%20',
      '%zz',
      '1.2.3.4',
      '[v1.x]',
      'é',
    ];
    fc.assert(
      fc.property(tokens(parts, 8), (text) => {
        const ours = isUri(text);
        if (ours === ajvUri(text)) return;
        // ajv-formats starts the authority with "/?/": "x://bad" passes as "x:/" + "/bad".
        expect(ours).toBe(false);
        expect(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)).toBe(true);
      }),
      { numRuns: 50000, seed: FUZZ_SEED },
    );
    expect(ajvUri('http://::')).toBe(true);
    expect(isUri('http://::')).toBe(false);
  });
});

describe('RFC 4648 base64', () => {
  it('requires the standard alphabet with padding', () => {
    for (const v of ['', 'e30=', 'aGVsbG8gd29ybGQ=', 'YQ==', 'YWJj'])
      expect(isBase64(v), v).toBe(true);
    for (const v of ['e30', 'YQ=', 'Y===', 'a-_b', 'YW Jj', 'YWJj\n'])
      expect(isBase64(v), v).toBe(false);
  });
});
