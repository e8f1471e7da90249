export { describeValue as show } from '@ts-oci/spec/errors';

/** `"0o" + octal`, for modes in messages: people think of file modes in octal even though JSON carries decimals. */
export function octal(mode: number): string {
  return `0o${mode.toString(8)}`;
}
