export { initBinaryPath } from './init-binary.js';
export {
  isNamespaceKind,
  listNamespaces,
  NAMESPACE_KINDS,
  NamespaceError,
  type NamespaceIdentity,
  type NamespaceKind,
  namespaceOf,
  sameNamespace,
} from './namespaces.js';
export {
  type NamespaceCommand,
  type NamespaceCommandOptions,
  nsenterCommand,
  spawnInNamespacesOf,
  spawnInNewNamespaces,
  unshareCommand,
} from './spawn.js';
