//! What the machine and the test's thread say about themselves: the CPU model (a run tag) and
//! the thread's CPU time (a per-test resource). The only platform calls of `testing`.

use std::time::Duration;

/// The CPU's model name (`AMD EPYC 7B13`, `Apple M2`), if the system says: from CPUID's brand
/// string on x86, `machdep.cpu.brand_string` on macOS, `/proc/cpuinfo` on other Linux.
pub fn cpu_model() -> Option<String> {
    let name = brand()?;
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then_some(name)
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn brand() -> Option<String> {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::__cpuid;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::__cpuid;
    // CPUID is present on every x86_64 processor and every x86 one Rust's targets run on;
    // leaves 0x80000002..=0x80000004 hold the brand string where 0x80000000 says they exist.
    #[allow(unsafe_code, unused_unsafe)]
    let leaf = |n: u32| unsafe { __cpuid(n) };
    if leaf(0x8000_0000).eax < 0x8000_0004 {
        return linux_cpuinfo();
    }
    let mut bytes = Vec::with_capacity(48);
    for n in 0x8000_0002..=0x8000_0004 {
        let r = leaf(n);
        for word in [r.eax, r.ebx, r.ecx, r.edx] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    Some(
        text.trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .to_string(),
    )
}

#[cfg(all(
    not(any(target_arch = "x86", target_arch = "x86_64")),
    target_os = "macos"
))]
fn brand() -> Option<String> {
    let mut buffer = [0u8; 128];
    let mut len = buffer.len();
    // sysctlbyname writes at most `len` bytes into the buffer and the length into `len`.
    #[allow(unsafe_code)]
    let status = unsafe {
        libc::sysctlbyname(
            c"machdep.cpu.brand_string".as_ptr(),
            buffer.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (status == 0).then(|| {
        String::from_utf8_lossy(&buffer[..len.min(buffer.len())])
            .trim_end_matches('\0')
            .to_string()
    })
}

#[cfg(all(
    not(any(target_arch = "x86", target_arch = "x86_64")),
    not(target_os = "macos")
))]
fn brand() -> Option<String> {
    linux_cpuinfo()
}

/// `model name` (or `Model`, `Hardware`) of `/proc/cpuinfo`; `None` elsewhere.
#[allow(dead_code)] // not called on x86 macOS and Windows
fn linux_cpuinfo() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    ["model name", "Model", "Hardware"].iter().find_map(|key| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    })
}

/// The CPU time the calling thread has used (user and system), if the system tells.
pub fn thread_cpu_time() -> Option<Duration> {
    thread_cpu()
}

#[cfg(unix)]
fn thread_cpu() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // clock_gettime only writes the timespec it is given.
    #[allow(unsafe_code)]
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (status == 0).then(|| {
        Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    })
}

#[cfg(windows)]
fn thread_cpu() -> Option<Duration> {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::{GetCurrentThread, GetThreadTimes};
    let zero = || FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero(), zero(), zero(), zero());
    // GetThreadTimes writes the four FILETIMEs; the pseudo handle needs no closing.
    #[allow(unsafe_code)]
    let ok = unsafe {
        GetThreadTimes(
            GetCurrentThread(),
            &mut created,
            &mut exited,
            &mut kernel,
            &mut user,
        )
    };
    let ticks = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
    // FILETIME counts 100 ns ticks.
    (ok != 0).then(|| Duration::from_nanos((ticks(kernel) + ticks(user)).saturating_mul(100)))
}

#[cfg(not(any(unix, windows)))]
fn thread_cpu() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_has_a_name_on_the_machines_we_test_on() {
        let name = cpu_model().expect("x86 CPUID or /proc/cpuinfo names the CPU");
        assert!(
            name.len() > 3 && !name.contains("  ") && name.trim() == name,
            "{name:?}"
        );
        #[cfg(target_os = "linux")]
        if let Some(listed) = linux_cpuinfo() {
            assert_eq!(
                name,
                listed.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }

    #[test]
    fn thread_cpu_time_counts_this_threads_work_only() {
        let before = thread_cpu_time().unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let busy = thread_cpu_time().unwrap() - before;
        assert!(busy > Duration::from_millis(1), "{busy:?}");
        let before = thread_cpu_time().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let asleep = thread_cpu_time().unwrap() - before;
        assert!(
            asleep < Duration::from_millis(20),
            "sleeping is not CPU time: {asleep:?}"
        );
    }
}
