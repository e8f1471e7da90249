/**
 * The zod API the schemas use, imported by name. `import { z } from 'zod'`
 * pulls zod's whole namespace object into the bundle, its ~40 locales
 * included (most of a 505 KB minified file that every CLI start parsed);
 * named imports let the bundler keep only what is used.
 */

// `output`, not its alias `infer`: a bare `infer<…>` is a syntax error in the
// bundled .d.ts.
export type { core, output, ZodType } from 'zod';
export { array, boolean, enum, looseObject, number, record, string } from 'zod';
