//! Process-settings building blocks for `tsoci-init`: each function does one
//! kernel operation (or a short, fixed sequence of them) and reports failure as
//! a [`ProcessError`] naming the step, the object and the errno.
//!
//! Everything here changes the *calling thread's* credentials or attributes.
//! It is meant for the single-threaded container init, never for a Node
//! process or a libuv pool thread (DESIGN.md, "The container init").

pub mod caps;
pub mod console;
pub mod errno;
mod error;
pub mod misc;
pub mod rlimit;
pub mod seccomp;
pub mod sealed;
mod sys;
pub mod user;

pub use errno::Errno;
pub use error::ProcessError;

#[cfg(test)]
pub(crate) mod testutil;
