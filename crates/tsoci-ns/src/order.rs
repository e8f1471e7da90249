//! Which namespaces to join and which to create, and in what order.
//!
//! The order is fixed by the kernel's permission model: the user namespace is
//! joined first (it decides the privileges for every later setns), the mount
//! namespace last (joining it resets root and cwd, and a path opened later
//! would resolve in the container's tree). All paths are opened before the
//! first setns, because after joining a mount namespace a host path like
//! `/run/netns/x` may no longer resolve. A new user namespace is created
//! first and on its own, since its uid/gid maps must be written by the
//! parent before anything else is created inside it.

use crate::{NamespaceKind, NsError};

/// The position of a kind in the setns sequence.
pub fn join_rank(kind: NamespaceKind) -> u8 {
    match kind {
        NamespaceKind::User => 0,
        NamespaceKind::Ipc => 1,
        NamespaceKind::Uts => 2,
        NamespaceKind::Network => 3,
        NamespaceKind::Pid => 4,
        NamespaceKind::Cgroup => 5,
        NamespaceKind::Time => 6,
        NamespaceKind::Mount => 7,
    }
}

/// A validated namespace request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsPlan {
    /// Existing namespaces to join, in setns order.
    pub join: Vec<(NamespaceKind, String)>,
    /// A new user namespace is created (first, alone).
    pub new_user: bool,
    /// The other new namespaces, created together after the user namespace.
    pub create: Vec<NamespaceKind>,
}

impl NsPlan {
    /// Builds the plan from `linux.namespaces`-style entries: a kind with a
    /// path is joined, without one it is created. A kind may appear once.
    pub fn build(entries: &[(NamespaceKind, Option<String>)]) -> Result<NsPlan, NsError> {
        let mut seen = Vec::new();
        let mut join = Vec::new();
        let mut create = Vec::new();
        let mut new_user = false;
        for (i, (kind, path)) in entries.iter().enumerate() {
            if seen.contains(kind) {
                return Err(NsError::Invalid(format!(
                    "[{i}]: {} namespace listed twice",
                    kind.oci_name()
                )));
            }
            seen.push(*kind);
            match path {
                Some(p) if p.is_empty() => create_kind(*kind, &mut new_user, &mut create),
                Some(p) if !p.starts_with('/') => {
                    return Err(NsError::Invalid(format!(
                        "[{i}]: {} namespace path {p:?} is not absolute",
                        kind.oci_name()
                    )))
                }
                Some(p) => join.push((*kind, p.clone())),
                None => create_kind(*kind, &mut new_user, &mut create),
            }
        }
        join.sort_by_key(|(k, _)| join_rank(*k));
        create.sort_by_key(|k| join_rank(*k));
        Ok(NsPlan {
            join,
            new_user,
            create,
        })
    }

    /// Whether `kind` is joined or created (i.e. not shared with the caller).
    pub fn has(&self, kind: NamespaceKind) -> bool {
        self.is_new(kind) || self.join.iter().any(|(k, _)| *k == kind)
    }

    pub fn is_new(&self, kind: NamespaceKind) -> bool {
        if kind == NamespaceKind::User {
            self.new_user
        } else {
            self.create.contains(&kind)
        }
    }

    /// The process that execs must be a child: a pid namespace (joined or
    /// new) and a new time namespace take effect only for children.
    pub fn needs_fork(&self) -> bool {
        self.has(NamespaceKind::Pid) || self.is_new(NamespaceKind::Time)
    }
}

fn create_kind(kind: NamespaceKind, new_user: &mut bool, create: &mut Vec<NamespaceKind>) {
    if kind == NamespaceKind::User {
        *new_user = true;
    } else {
        create.push(kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NamespaceKind::*;

    fn p(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn user_first_mount_last_regardless_of_input_order() {
        let plan = NsPlan::build(&[
            (Mount, p("/proc/1/ns/mnt")),
            (Network, p("/run/netns/a")),
            (User, p("/proc/1/ns/user")),
            (Pid, p("/proc/1/ns/pid")),
            (Uts, None),
        ])
        .unwrap();
        let kinds: Vec<NamespaceKind> = plan.join.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, vec![User, Network, Pid, Mount]);
        assert_eq!(plan.join[1].1, "/run/netns/a");
        assert_eq!(plan.create, vec![Uts]);
        assert!(!plan.new_user);
        assert!(plan.needs_fork());
    }

    #[test]
    fn new_user_is_separate_from_the_other_new_kinds() {
        let plan =
            NsPlan::build(&[(Mount, None), (User, None), (Time, None), (Ipc, None)]).unwrap();
        assert!(plan.new_user);
        assert_eq!(plan.create, vec![Ipc, Time, Mount]);
        assert!(plan.is_new(User) && plan.is_new(Time) && !plan.is_new(Pid));
        assert!(
            plan.needs_fork(),
            "new time namespace applies to children only"
        );
        let plain = NsPlan::build(&[(Uts, None), (Network, p("/run/netns/x"))]).unwrap();
        assert!(!plain.needs_fork());
        assert!(plain.has(Network) && !plain.is_new(Network));
    }

    #[test]
    fn empty_path_means_new() {
        let plan = NsPlan::build(&[(Network, p(""))]).unwrap();
        assert_eq!(plan.create, vec![Network]);
        assert!(plan.join.is_empty());
    }

    #[test]
    fn duplicates_and_relative_paths_are_rejected() {
        let e = NsPlan::build(&[(Pid, None), (Uts, None), (Pid, p("/proc/1/ns/pid"))]).unwrap_err();
        assert_eq!(e.to_string(), "namespaces: [2]: pid namespace listed twice");
        let e = NsPlan::build(&[(Network, p("run/netns/x"))]).unwrap_err();
        assert!(
            e.to_string()
                .contains("[0]: network namespace path \"run/netns/x\" is not absolute"),
            "{e}"
        );
    }

    #[test]
    fn ranks_are_a_total_order() {
        let mut ranks: Vec<u8> = NamespaceKind::ALL.iter().map(|k| join_rank(*k)).collect();
        ranks.sort();
        ranks.dedup();
        assert_eq!(ranks.len(), NamespaceKind::ALL.len());
        assert_eq!(join_rank(User), 0);
        assert_eq!(join_rank(Mount), 7);
    }
}
