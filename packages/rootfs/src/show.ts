/**
 * Renders a value for an error message ("got …"). Never walks into objects:
 * the input may be an unparsed, hostile config, and a message only needs to
 * say what kind of thing was found.
 */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'nothing';
    case 'string':
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    case 'number':
      return Object.is(value, -0) ? '0' : String(value);
    case 'boolean':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? 'an array' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** `"0o" + octal`, for modes in messages: people think of file modes in octal even though JSON carries decimals. */
export function octal(mode: number): string {
  return `0o${mode.toString(8)}`;
}
