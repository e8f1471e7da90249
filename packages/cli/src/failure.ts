/** An error whose command must exit with a specific status (e.g. 255 for an exec launch failure). */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}
