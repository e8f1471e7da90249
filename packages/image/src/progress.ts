/**
 * Progress of the long operations (pulling, importing, unpacking, making a
 * bundle) as typed events, delivered synchronously to an `onProgress`
 * callback. Every operation that takes one reports:
 *
 *   resolving → resolved → per layer: download and/or unpack events → done
 *
 * Layer events carry the layer's position (`index` of `count`, base layer
 * first), its digest and its blob size (`total`); `bytes` counts blob bytes
 * (compressed, as stored) moved so far. Layers run in parallel where the
 * operation does (imports fetch up to three at once), so events of different
 * layers interleave; the events of one layer are always in order. Progress
 * events are coalesced (at most one per 1 % of the layer and per 64 KiB), and
 * the last one of a layer always has `bytes === total`.
 *
 * The callback must not throw: an exception fails the operation (and what it
 * wrote is cleaned up as for any failure).
 */
import { Transform } from 'node:stream';
import type { Descriptor } from '@ts-oci/spec';
import type { ApplyStats } from './unpack/apply.js';

/** Where a layer event's layer is in its image. */
export interface LayerPosition {
  /** 0 for the base layer. */
  index: number;
  /** Layers in the image. */
  count: number;
  digest: string;
  mediaType: string;
  /** Size of the layer's blob (compressed, as stored). */
  total: number;
}

export type ImageProgressEvent =
  /** Finding the image (reading an index, asking a registry). */
  | { type: 'resolving'; reference: string }
  /** The manifest for the platform was found: what is about to be fetched or unpacked. */
  | {
      type: 'resolved';
      reference: string;
      /** The manifest's digest. */
      digest: string;
      layers: { digest: string; size: number; mediaType: string }[];
      /** Sum of the layer blob sizes. */
      totalBytes: number;
    }
  /** A layer's blob starts to be copied (from a registry or a file) into a store or layout. */
  | ({ type: 'layer-download-start' } & LayerPosition)
  | ({ type: 'layer-download-progress'; bytes: number } & LayerPosition)
  /** The blob is in place, verified; `cached`: it already was (nothing was copied). */
  | ({ type: 'layer-download-done'; bytes: number; cached: boolean } & LayerPosition)
  /** A layer starts to be applied to a rootfs (or unpacked for overlay mounts). */
  | ({ type: 'layer-unpack-start' } & LayerPosition)
  | ({ type: 'layer-unpack-progress'; bytes: number } & LayerPosition)
  /**
   * The layer is applied; `cached`: an overlay layer the store had unpacked
   * already. `stats` counts what was written (absent when cached).
   */
  | ({
      type: 'layer-unpack-done';
      bytes: number;
      cached: boolean;
      stats?: ApplyStats;
    } & LayerPosition)
  /** The operation finished (the last event). */
  | { type: 'done'; reference: string; digest: string };

export type ImageProgressType = ImageProgressEvent['type'];

/** Receives progress events; must not throw. */
export type ProgressListener = (event: ImageProgressEvent) => void;

const MIN_STEP = 64 * 1024;

/** The position of layer `index` of `layers`. */
export function layerPosition(layers: readonly Descriptor[], index: number): LayerPosition {
  const layer = layers[index] as Descriptor;
  return {
    index,
    count: layers.length,
    digest: layer.digest,
    mediaType: layer.mediaType,
    total: layer.size,
  };
}

/** The `resolved` event of an image. */
export function resolvedEvent(
  reference: string,
  image: { manifestDescriptor: Descriptor; layers: readonly Descriptor[] },
): ImageProgressEvent {
  return {
    type: 'resolved',
    reference,
    digest: image.manifestDescriptor.digest,
    layers: image.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    totalBytes: image.layers.reduce((n, l) => n + l.size, 0),
  };
}

/**
 * Counts the bytes of one layer transfer and emits coalesced progress
 * events of `type`. `add` is called per chunk; `bytes` is the running total.
 */
export class ByteCounter {
  bytes = 0;
  /** What the listener threw, if it did (the operation fails with exactly that). */
  failure: { error: unknown } | undefined;
  #reported = 0;
  readonly #step: number;

  constructor(
    private readonly emit: ProgressListener | undefined,
    private readonly type: 'layer-download-progress' | 'layer-unpack-progress',
    private readonly position: LayerPosition,
  ) {
    this.#step = Math.max(MIN_STEP, Math.ceil(position.total / 100));
  }

  add(n: number): void {
    this.bytes += n;
    if (this.emit === undefined) return;
    if (this.bytes - this.#reported >= this.#step || this.bytes === this.position.total) {
      this.#reported = this.bytes;
      try {
        this.emit({ type: this.type, ...this.position, bytes: this.bytes });
      } catch (error) {
        this.failure ??= { error };
        throw error;
      }
    }
  }

  /** A pass-through stream that counts what flows through it. */
  stream(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        try {
          this.add(chunk.length);
        } catch (error) {
          callback(error as Error);
          return;
        }
        callback(null, chunk);
      },
    });
  }
}

/** Only the layer events of `listener` (an operation made of others reports its own lifecycle). */
export function layerEventsOnly(
  listener: ProgressListener | undefined,
): ProgressListener | undefined {
  if (listener === undefined) return undefined;
  return (event) => {
    if (event.type.startsWith('layer-')) listener(event);
  };
}
