//! Parsers for /proc/self/mountinfo and /proc/self/cgroup (proc(5)).

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u64,
    pub parent: u64,
    /// The root of the mount within its filesystem.
    pub root: String,
    pub mount_point: String,
    pub options: String,
    /// Optional fields: "shared:N", "master:N", …
    pub optional: Vec<String>,
    pub fs_type: String,
    pub source: String,
    pub super_options: String,
}

/// Undoes the octal escapes the kernel uses for space, tab, newline and
/// backslash in mountinfo paths.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let id = l.next()?.parse().ok()?;
    let parent = l.next()?.parse().ok()?;
    let _devno = l.next()?;
    let root = unescape(l.next()?);
    let mount_point = unescape(l.next()?);
    let options = l.next()?.to_string();
    let optional = l.filter(|s| !s.is_empty()).map(str::to_string).collect();
    let mut r = right.split(' ');
    let fs_type = r.next()?.to_string();
    let source = unescape(r.next()?);
    let super_options = r.next().unwrap_or("").to_string();
    Some(MountInfo {
        id,
        parent,
        root,
        mount_point,
        options,
        optional,
        fs_type,
        source,
        super_options,
    })
}

/// One line of /proc/self/cgroup: "hierarchy-id:controllers:path".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupEntry {
    pub hierarchy: u32,
    /// Controllers ("cpu", "cpuacct") or a named hierarchy ("name=systemd");
    /// empty for the unified (v2) hierarchy.
    pub controllers: Vec<String>,
    pub path: String,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupEntry> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let hierarchy = it.next()?.parse().ok()?;
            let ctrl = it.next()?;
            let path = it.next()?.to_string();
            let controllers = ctrl
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some(CgroupEntry {
                hierarchy,
                controllers,
                path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
35 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 master:3 - cgroup cgroup rw,cpu,cpuacct
40 1 8:1 /data/with\\040space /mnt/a\\011b rw - ext4 /dev/sda1 rw
";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].id, 22);
        assert_eq!(m[0].parent, 1);
        assert_eq!(m[0].fs_type, "sysfs");
        assert_eq!(
            m[2].optional,
            vec!["shared:14".to_string(), "master:3".to_string()]
        );
        assert_eq!(m[2].super_options, "rw,cpu,cpuacct");
        assert_eq!(m[2].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(m[3].root, "/data/with space");
        assert_eq!(m[3].mount_point, "/mnt/a\tb");
        assert_eq!(m[3].source, "/dev/sda1");
    }

    #[test]
    fn parses_proc_cgroup() {
        let text = "12:pids:/user.slice/x\n4:cpu,cpuacct:/\n1:name=systemd:/init.scope\n0::/a:b\n";
        let c = parse_proc_cgroup(text);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].controllers, vec!["pids"]);
        assert_eq!(c[0].path, "/user.slice/x");
        assert_eq!(c[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(c[2].controllers, vec!["name=systemd"]);
        assert_eq!(c[3].hierarchy, 0);
        assert!(c[3].controllers.is_empty());
        assert_eq!(c[3].path, "/a:b");
    }

    #[test]
    fn unescape_leaves_other_backslashes() {
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("a\\9"), "a\\9");
        assert_eq!(unescape("\\012"), "\n");
    }
}
