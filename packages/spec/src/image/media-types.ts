/** Media types of the OCI image spec (media-types.md) and of Docker's schema2 formats. */

export const OCI_MEDIA_TYPES = {
  descriptor: 'application/vnd.oci.descriptor.v1+json',
  layoutHeader: 'application/vnd.oci.layout.header.v1+json',
  imageIndex: 'application/vnd.oci.image.index.v1+json',
  imageManifest: 'application/vnd.oci.image.manifest.v1+json',
  imageConfig: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated by image-spec 1.1 but still to be read. */
  layerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  layerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  layerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  /** The empty descriptor's type (`{}`), for unused configs and layers of artifacts. */
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

/**
 * Docker's media types. Registries still serve schema2 manifests and lists,
 * whose JSON is shaped like the OCI manifest and index, so parseManifest and
 * parseIndex accept them; schema1 is listed only so that callers can
 * recognise and refuse it.
 */
export const DOCKER_MEDIA_TYPES = {
  manifestV2: 'application/vnd.docker.distribution.manifest.v2+json',
  manifestListV2: 'application/vnd.docker.distribution.manifest.list.v2+json',
  imageConfig: 'application/vnd.docker.container.image.v1+json',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  layerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  layerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  manifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
  manifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;
