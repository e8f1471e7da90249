import { createRequire } from 'node:module';
import type * as Binding from '../native/binding.cjs';

// The addon is loaded on first use, not at import: commands that never touch
// namespaces must not pay for dlopen. The path is the same from src/ and dist/.
let binding: typeof Binding | undefined;

export function native(): typeof Binding {
  binding ??= createRequire(import.meta.url)('../native/binding.cjs') as typeof Binding;
  return binding;
}
