/** Layer ChainIDs (config.md#layer-chainid). */
import { createHash } from 'node:crypto';
import { parseDigest } from './digest.js';

/**
 * ChainID(L₀) = DiffID(L₀); ChainID(Lᵢ) = sha256(ChainID(Lᵢ₋₁) + " " + DiffID(Lᵢ)).
 * One per layer: the identity of the filesystem after applying layers 0..i.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  let prev: string | undefined;
  for (const diffId of diffIds) {
    parseDigest(diffId);
    const id: string =
      prev === undefined
        ? diffId
        : `sha256:${createHash('sha256').update(`${prev} ${diffId}`).digest('hex')}`;
    out.push(id);
    prev = id;
  }
  return out;
}
