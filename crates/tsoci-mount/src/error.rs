//! The one error type of this crate. Every variant names the object (plan
//! field, container path, mount) and, where the kernel refused something, the
//! errno by name so the init can forward it in its `error` frame.

use rustix::io::Errno;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The plan itself is wrong; nothing was touched.
    #[error("invalid rootfs plan: {field}: {reason}")]
    InvalidPlan { field: String, reason: String },

    /// A system call failed. `what` names the mount or path, `op` the call;
    /// `detail` carries the filesystem's own message (fsconfig log) if any.
    #[error("{what}: {op}: {} ({}){}", errno_name(*errno), errno_text(*errno), fmt_detail(detail))]
    Sys {
        what: String,
        op: &'static str,
        errno: Errno,
        detail: Option<String>,
    },

    /// An object exists but is of the wrong kind (a file where a directory
    /// source needs a directory target, a symlink where a device was asked …).
    #[error("{what}: expected {expected}, found {found} ({})", errno_name(*errno))]
    WrongType {
        what: String,
        expected: &'static str,
        found: String,
        errno: Errno,
    },

    /// A safety check refused to go on: /dev/null is not char 1:3, /proc is
    /// not procfs, a path resolves through an overmount or a magic link.
    #[error("{what}: refusing: {reason} ({})", errno_name(*errno))]
    Unsafe {
        what: String,
        reason: String,
        errno: Errno,
    },
}

fn fmt_detail(d: &Option<String>) -> String {
    match d {
        Some(s) if !s.is_empty() => format!(" [{s}]"),
        _ => String::new(),
    }
}

fn errno_text(e: Errno) -> String {
    // rustix's Display is std's "<strerror> (os error N)"; the name is
    // already printed, so only the text is kept.
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl MountError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> MountError {
        MountError::InvalidPlan {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn sys(what: impl Into<String>, op: &'static str, errno: Errno) -> MountError {
        MountError::Sys {
            what: what.into(),
            op,
            errno,
            detail: None,
        }
    }

    pub(crate) fn unsafe_(
        what: impl Into<String>,
        reason: impl Into<String>,
        errno: Errno,
    ) -> MountError {
        MountError::Unsafe {
            what: what.into(),
            reason: reason.into(),
            errno,
        }
    }

    /// The errno this error stands for: the kernel's when a call failed,
    /// otherwise the closest fit (EINVAL for a bad plan, ENOTDIR/EISDIR/…
    /// for a type mismatch, EPERM/EXDEV/ELOOP for refused unsafe objects).
    pub fn errno(&self) -> Errno {
        match self {
            MountError::InvalidPlan { .. } => Errno::INVAL,
            MountError::Sys { errno, .. }
            | MountError::WrongType { errno, .. }
            | MountError::Unsafe { errno, .. } => *errno,
        }
    }

    /// The symbolic name of [`MountError::errno`], e.g. `"ENOENT"`.
    pub fn errno_name(&self) -> &'static str {
        errno_name(self.errno())
    }

    /// True when the errno came from a failed system call (the init's
    /// `error` frame may then carry it; otherwise it may send null).
    pub fn is_kernel_error(&self) -> bool {
        matches!(self, MountError::Sys { .. })
    }

    /// The path or mount the error is about ("" for plan errors' field).
    pub fn subject(&self) -> &str {
        match self {
            MountError::InvalidPlan { field, .. } => field,
            MountError::Sys { what, .. }
            | MountError::WrongType { what, .. }
            | MountError::Unsafe { what, .. } => what,
        }
    }

    /// Prefixes the subject with more context ("mounts[2] (proc on /proc)").
    pub(crate) fn context(mut self, ctx: &str) -> MountError {
        match &mut self {
            MountError::InvalidPlan { field, .. } => *field = format!("{ctx}: {field}"),
            MountError::Sys { what, .. }
            | MountError::WrongType { what, .. }
            | MountError::Unsafe { what, .. } => *what = format!("{ctx}: {what}"),
        }
        self
    }
}

/// Symbolic errno names for Linux (asm-generic numbering, as on x86_64 and
/// aarch64).
pub fn errno_name(e: Errno) -> &'static str {
    match e.raw_os_error() {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTBLK => "ENOTBLK",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::EDOM => "EDOM",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOLCK => "ENOLCK",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENOMSG => "ENOMSG",
        libc::EIDRM => "EIDRM",
        libc::ENOSTR => "ENOSTR",
        libc::ENODATA => "ENODATA",
        libc::ETIME => "ETIME",
        libc::ENOSR => "ENOSR",
        libc::ENOLINK => "ENOLINK",
        libc::EPROTO => "EPROTO",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EILSEQ => "EILSEQ",
        libc::EUSERS => "EUSERS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ESTALE => "ESTALE",
        libc::EDQUOT => "EDQUOT",
        libc::ECANCELED => "ECANCELED",
        libc::EOWNERDEAD => "EOWNERDEAD",
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE",
        libc::ENOMEDIUM => "ENOMEDIUM",
        libc::EMEDIUMTYPE => "EMEDIUMTYPE",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYEXPIRED => "EKEYEXPIRED",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::ERFKILL => "ERFKILL",
        libc::EHWPOISON => "EHWPOISON",
        libc::ECHRNG => "ECHRNG",
        libc::EL2NSYNC => "EL2NSYNC",
        libc::EL3HLT => "EL3HLT",
        libc::EL3RST => "EL3RST",
        libc::ELNRNG => "ELNRNG",
        libc::EUNATCH => "EUNATCH",
        libc::ENOCSI => "ENOCSI",
        libc::EL2HLT => "EL2HLT",
        libc::EBADE => "EBADE",
        libc::EBADR => "EBADR",
        libc::EXFULL => "EXFULL",
        libc::ENOANO => "ENOANO",
        libc::EBADRQC => "EBADRQC",
        libc::EBADSLT => "EBADSLT",
        libc::EBFONT => "EBFONT",
        libc::ENONET => "ENONET",
        libc::ENOPKG => "ENOPKG",
        libc::EREMOTE => "EREMOTE",
        libc::EADV => "EADV",
        libc::ESRMNT => "ESRMNT",
        libc::ECOMM => "ECOMM",
        libc::EMULTIHOP => "EMULTIHOP",
        libc::EDOTDOT => "EDOTDOT",
        libc::ENOTUNIQ => "ENOTUNIQ",
        libc::EBADFD => "EBADFD",
        libc::EREMCHG => "EREMCHG",
        libc::ELIBACC => "ELIBACC",
        libc::ELIBBAD => "ELIBBAD",
        libc::ELIBSCN => "ELIBSCN",
        libc::ELIBMAX => "ELIBMAX",
        libc::ELIBEXEC => "ELIBEXEC",
        libc::ERESTART => "ERESTART",
        libc::ESTRPIPE => "ESTRPIPE",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EPFNOSUPPORT => "EPFNOSUPPORT",
        libc::ENETRESET => "ENETRESET",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::ETOOMANYREFS => "ETOOMANYREFS",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EUCLEAN => "EUCLEAN",
        libc::ENOTNAM => "ENOTNAM",
        libc::ENAVAIL => "ENAVAIL",
        libc::EISNAM => "EISNAM",
        libc::EREMOTEIO => "EREMOTEIO",
        _ => "EUNKNOWN",
    }
}
