/**
 * Streams that can put their whole content into a file themselves, faster
 * than being piped into one: the registry client's blob streams read the
 * socket straight into reused buffers that the thread pool writes out
 * (registry/file-receiver.ts). The store asks for this before it reads
 * anything; a stream that is not marked, or not fresh, is piped as any
 * other. Only code of this package marks streams (the map is
 * module-private), as with self-verifying streams (./digest.ts).
 */

export interface FileWriterOptions {
  /** Called with the number of new bytes as they arrive; a throw fails the write with that error. */
  onBytes?: (n: number) => void;
}

/**
 * Writes the stream's whole content to `fd` from offset 0 and resolves when
 * it is all written (not fsynced) and verified. When it rejects, no write to
 * `fd` is in flight any more.
 */
export type FileWriter = (fd: number, options?: FileWriterOptions) => Promise<void>;

const writers = new WeakMap<object, FileWriter>();

/** Records that `stream`, until it is first read, can write itself with `writer`. */
export function markFileWriter<T extends object>(stream: T, writer: FileWriter): T {
  writers.set(stream, writer);
  return stream;
}

export function fileWriterOf(stream: object): FileWriter | undefined {
  return writers.get(stream);
}
