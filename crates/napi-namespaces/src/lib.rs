//! Node binding of tsoci-ns. Read-only: nothing here changes the namespaces of
//! the calling process or of a libuv pool thread (DESIGN.md, "The container init").

use napi::{Error, Result, Status};
use napi_derive::napi;
use tsoci_ns::{NamespaceKind, NsError};

/// The identity of a namespace: nsfs device and inode numbers.
#[napi(object)]
pub struct NamespaceIdentity {
    /// OCI kind name (`mount`, `network`, …).
    pub kind: String,
    pub dev: i64,
    pub inode: i64,
}

// The reason is `ERRNO: message` so the TypeScript side can map it to a stable code.
fn to_napi(e: NsError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {}", e.errno_name(), e))
}

fn identity(kind: NamespaceKind, id: tsoci_ns::NamespaceId) -> Result<NamespaceIdentity> {
    let conv = |v: u64| i64::try_from(v).map_err(|_| Error::new(Status::GenericFailure, "EOVERFLOW: nsfs number too large"));
    Ok(NamespaceIdentity { kind: kind.oci_name().to_owned(), dev: conv(id.dev)?, inode: conv(id.inode)? })
}

/// The namespace of `kind` that `pid` is in (`pid` 0 means the calling process).
#[napi]
pub fn namespace_of(pid: u32, kind: String) -> Result<NamespaceIdentity> {
    let k = NamespaceKind::parse(&kind).ok_or_else(|| to_napi(NsError::UnknownKind(kind.clone())))?;
    let who = if pid == 0 { None } else { Some(pid) };
    let id = tsoci_ns::namespace_of(who, k).map_err(to_napi)?;
    identity(k, id)
}

/// Every namespace of `pid` (0: the calling process) that this kernel has.
#[napi]
pub fn namespaces_of(pid: u32) -> Result<Vec<NamespaceIdentity>> {
    let who = if pid == 0 { None } else { Some(pid) };
    tsoci_ns::namespaces_of(who)
        .map_err(to_napi)?
        .into_iter()
        .map(|(k, id)| identity(k, id))
        .collect()
}
