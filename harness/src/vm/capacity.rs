//! How many VMs this machine runs at once (`--jobs` by default): the
//! cores over one VM's vCPUs, as far as the available memory holds one
//! VM's `--memory` each.

/// What bounds the number of VMs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Cores kharness may use (affinity and cgroup limits count).
    pub cores: usize,
    /// vCPUs of one VM.
    pub vcpus: u32,
    /// MemAvailable of /proc/meminfo, when readable.
    pub available_mib: Option<u64>,
    /// One VM's guest memory, when `--memory` parses.
    pub vm_mib: Option<u64>,
}

impl Capacity {
    /// This host's capacity for VMs of `vcpus` vCPUs and `memory` (as
    /// `--memory` takes it).
    pub fn of_host(vcpus: u32, memory: &str) -> Capacity {
        Capacity {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            vcpus,
            available_mib: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|t| available_mib(&t)),
            vm_mib: memory_mib(memory),
        }
    }

    /// VMs at once: cores / vCPUs, at most available memory / guest
    /// memory, at least 1.
    pub fn jobs(&self) -> usize {
        let by_cores = self.cores / usize::try_from(self.vcpus.max(1)).unwrap_or(usize::MAX);
        let by_memory = match (self.available_mib, self.vm_mib) {
            (Some(avail), Some(vm)) if vm > 0 => usize::try_from(avail / vm).unwrap_or(usize::MAX),
            _ => usize::MAX,
        };
        by_cores.min(by_memory).max(1)
    }

    /// "2 cores at 1 vCPU a VM, 23000 MiB available at 1024 MiB a VM".
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} core(s) at {} vCPU(s) a VM",
            self.cores,
            self.vcpus.max(1)
        );
        if let (Some(a), Some(v)) = (self.available_mib, self.vm_mib) {
            s.push_str(&format!(", {a} MiB available at {v} MiB a VM"));
        }
        s
    }
}

/// Guest memory in MiB from QEMU's `-m` syntax (which vng passes on): a
/// number with an optional K, M, G or T suffix (an optional B or iB
/// after it), a bare number being MiB. `None` for anything else.
pub fn memory_mib(spec: &str) -> Option<u64> {
    let s = spec.trim();
    let s = s
        .strip_suffix("iB")
        .or_else(|| s.strip_suffix("ib"))
        .or_else(|| s.strip_suffix(['B', 'b']))
        .unwrap_or(s);
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "M"),
    };
    let value: f64 = num.trim().parse().ok()?;
    let per_mib = match unit.to_ascii_uppercase().as_str() {
        "K" => 1.0 / 1024.0,
        "M" => 1.0,
        "G" => 1024.0,
        "T" => 1024.0 * 1024.0,
        _ => return None,
    };
    let mib = (value * per_mib).ceil();
    (value.is_finite() && value > 0.0 && mib < 1e15).then_some(mib as u64)
}

/// MemAvailable from the text of /proc/meminfo, in MiB.
pub fn available_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(cores: usize, vcpus: u32, avail: Option<u64>, vm: Option<u64>) -> Capacity {
        Capacity {
            cores,
            vcpus,
            available_mib: avail,
            vm_mib: vm,
        }
    }

    #[test]
    fn jobs_are_cores_over_vcpus_as_far_as_memory_holds() {
        assert_eq!(cap(2, 1, Some(24_000), Some(1024)).jobs(), 2);
        assert_eq!(cap(16, 1, Some(24_000), Some(1024)).jobs(), 16);
        assert_eq!(cap(16, 4, Some(24_000), Some(1024)).jobs(), 4);
        assert_eq!(cap(16, 1, Some(3_000), Some(1024)).jobs(), 2, "memory");
        assert_eq!(cap(16, 1, None, Some(1024)).jobs(), 16, "no meminfo");
        // vng's default under KVM: every core for one VM.
        assert_eq!(cap(8, 8, Some(24_000), Some(1024)).jobs(), 1);
        assert_eq!(cap(2, 4, Some(24_000), Some(1024)).jobs(), 1, "at least 1");
        assert_eq!(cap(2, 1, Some(500), Some(1024)).jobs(), 1, "at least 1");
        assert_eq!(cap(4, 0, None, None).jobs(), 4, "0 vCPUs counts as 1");
    }

    #[test]
    fn memory_reads_qemus_syntax() {
        assert_eq!(memory_mib("1G"), Some(1024));
        assert_eq!(memory_mib("1g"), Some(1024));
        assert_eq!(memory_mib("512M"), Some(512));
        assert_eq!(memory_mib("2048"), Some(2048), "a bare number is MiB");
        assert_eq!(memory_mib("1.5G"), Some(1536));
        assert_eq!(memory_mib("4GiB"), Some(4096));
        assert_eq!(memory_mib("2GB"), Some(2048));
        assert_eq!(memory_mib("1048576K"), Some(1024));
        assert_eq!(memory_mib("1T"), Some(1024 * 1024));
        for bad in ["", "G", "lots", "-1G", "0", "1X", "nanG"] {
            assert_eq!(memory_mib(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn available_memory_comes_from_meminfo() {
        let text = "MemTotal:       24591104 kB\nMemFree:         1000000 kB\n\
                    MemAvailable:   20971520 kB\nBuffers: 1 kB\n";
        assert_eq!(available_mib(text), Some(20480));
        assert_eq!(available_mib("MemTotal: 1 kB\n"), None);
    }
}
