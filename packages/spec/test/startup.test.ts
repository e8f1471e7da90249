import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(import.meta.dirname, '../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('start-up cost', () => {
  // zod's namespace object drags all its locales into the minified bundle
  // (505 KB instead of 131 KB), which every `tsoci create` parses.
  it('imports zod by name, in one place', () => {
    const offenders = sources(src)
      .filter((p) => p !== path.join(src, 'internal/z.ts'))
      .filter((p) => /from 'zod(\/[^']*)?'/.test(readFileSync(p, 'utf8')))
      .map((p) => path.relative(src, p));
    expect(offenders).toEqual([]);
    const z = readFileSync(path.join(src, 'internal/z.ts'), 'utf8');
    expect(z).not.toMatch(/^import\s*\{\s*z\s*\}/m);
    expect(z).not.toMatch(/^export\s*\*/m);
  });
});
