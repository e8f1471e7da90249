use crate::errno::Errno;

/// A failed process-settings step.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The kernel refused: `what` names the step and its object
    /// (`setting rlimit RLIMIT_NOFILE`), the errno says why.
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
    /// The caller handed a value that cannot be applied; nothing was changed.
    #[error("{0}")]
    Invalid(String),
}

impl ProcessError {
    pub(crate) fn sys(what: impl Into<String>, errno: impl Into<Errno>) -> ProcessError {
        ProcessError::Sys {
            what: what.into(),
            errno: errno.into(),
        }
    }

    /// The errno behind a kernel failure; `EINVAL` for invalid input.
    pub fn errno(&self) -> Errno {
        match self {
            ProcessError::Sys { errno, .. } => *errno,
            ProcessError::Invalid(_) => Errno::EINVAL,
        }
    }

    /// The errno name (`EPERM`, …), for the `error` frame's `errno` field.
    pub fn errno_name(&self) -> &'static str {
        self.errno().name()
    }
}
