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
