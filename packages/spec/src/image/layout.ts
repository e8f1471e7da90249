/** The `oci-layout` file of an image layout (image-layout.md, schema/image-layout-schema.json). */
import * as z from '../internal/z.js';

export const ImageLayoutSchema = z.looseObject({
  imageLayoutVersion: z.enum(['1.0.0']),
});

/** The content of an image layout's `oci-layout` file. */
export type ImageLayout = z.output<typeof ImageLayoutSchema>;
