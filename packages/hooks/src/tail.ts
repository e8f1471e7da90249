/**
 * Keeps the last `limit` bytes written to it. A hook may print without bound;
 * only the end (where the error usually is) is worth keeping, and memory must
 * not grow with the hook's output.
 */
export class ByteTail {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly limit: number) {}

  push(chunk: Uint8Array | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    if (buf.length === 0) return;
    this.chunks.push(buf);
    this.size += buf.length;
    let first = this.chunks[0];
    while (first !== undefined && this.size - first.length >= this.limit) {
      this.chunks.shift();
      this.size -= first.length;
      this.dropped = true;
      first = this.chunks[0];
    }
  }

  /** The kept bytes as UTF-8, prefixed with `…` when earlier output was dropped. */
  text(): string {
    const all = Buffer.concat(this.chunks);
    const start = Math.max(0, all.length - this.limit);
    // Cutting may split a multi-byte character; skip continuation bytes so the
    // text does not start with U+FFFD.
    let from = start;
    while (start > 0 && from < all.length && ((all[from] ?? 0) & 0xc0) === 0x80) from++;
    const body = all.subarray(from).toString('utf8');
    return this.dropped || start > 0 ? `…${body}` : body;
  }
}
