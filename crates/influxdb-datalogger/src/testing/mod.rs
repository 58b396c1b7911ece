//! What `#[influxdb_datalogger::test]` records: one point per test, through one logger per test
//! process, configured from the environment as the pytest plugin is.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `INFLUXDB_DATALOGGER_URL` | a connection string (`http://host:8086?db=tests`) | the file `influxdb-datalogger.lp` in the target directory |
//! | `INFLUXDB_DATALOGGER_MEASUREMENT` | the measurement | `cargo_test` |
//! | `INFLUXDB_DATALOGGER_TAG_<KEY>` | a tag `<key>` (lower case) for every point | — |
//! | `INFLUXDB_DATALOGGER_SPOOL` | the spool (a directory or connection string, `off`) | `influxdb-datalogger-spool` in the target directory, with a URL |
//! | `INFLUXDB_DATALOGGER_RUN_ID` | the run id | the `cargo` process that ran the tests (see below) |
//! | `INFLUXDB_DATALOGGER_RUN_TAGS_OFF` | run tags to leave out, comma-separated (`host,git_branch`) | — |
//! | `INFLUXDB_DATALOGGER_RESOURCES` | `1`: also record each test's CPU time (`cpu_time`, seconds of its thread) | off |
//!
//! What composes: `#[influxdb_datalogger::test(tokio::test)]` (or any attribute path that
//! stands where `#[test]` would, for async tests) — the attribute goes in `#[test]`'s place;
//! `#[influxdb_datalogger::test(rstest)]` with `#[case]`s or `#[values]`: each case is a point
//! of its own, its `test` tag `module::function::case_1` and its `param` tag the case (from the
//! test thread's name, which libtest sets); `#[should_panic]`, `#[ignore]` (not run, so not
//! recorded) and tests returning a `Result`.
//! [`log`] logs a test's own points with its tags.
//!
//! A point has the field `call` (seconds, monotonic) and the tags `test` (`module::name`),
//! `module`, `name`, `outcome` (`passed` or `failed`), `run_id`, the run's circumstances —
//! `host`, `os`, `cpu` (the CPU's model), `cores`, `git_commit`, `git_branch`, `git_dirty`, `ci`,
//! `ci_job` — and yours: the names the pytest plugin uses (see the test schema in the docs).
//! With a [`CountingAllocator`] as the test binary's global allocator, each point also has
//! `alloc_bytes` (bytes the test's thread allocated) and `peak_bytes` (the most it held above
//! what it held when the test started). What each costs a test is in `bench/RESULTS.md`.
//!
//! Every test binary of one `cargo test` is a process of its own; they share a run id made from
//! their parent process (cargo) — its id and, on Linux, its start time — unless
//! `INFLUXDB_DATALOGGER_RUN_ID` gives one. Points are handed to a background writer as each
//! test ends (nothing is sent on the test's thread), and the process waits at most
//! [`EXIT_FLUSH`] for them at exit (on Unix; elsewhere, and for what is not delivered by then,
//! the spool keeps them for the next run). A database that is down never fails or slows a test.

mod alloc;
mod machine;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{DataLogger, Field, FieldArg, FieldValue, Measurement, Tag, Timestamp};

pub use alloc::CountingAllocator;
use alloc::MemoryMark;
pub use machine::{cpu_model, thread_cpu_time};

/// How long a test process waits at exit for its points to be delivered.
pub const EXIT_FLUSH: Duration = Duration::from_secs(5);

/// One running test; [`finish`](Self::finish) it with the test's result, or let it drop (a
/// panicking test drops it while unwinding).
#[derive(Debug)]
pub struct TestRun {
    module: &'static str,
    name: &'static str,
    should_panic: bool,
    started: Instant,
    at: Timestamp,
    recorded: bool,
    /// The thread's CPU time at the start, when resources are recorded.
    cpu_started: Option<Duration>,
    /// The thread's allocations at the start, when a [`CountingAllocator`] counts them.
    memory: Option<MemoryMark>,
}

/// A test's result: whether it counts as passed.
pub trait TestOutcome {
    /// Whether the test passed (before `#[should_panic]` is considered).
    fn passed(&self) -> bool;
}

impl TestOutcome for () {
    fn passed(&self) -> bool {
        true
    }
}

impl<T, E> TestOutcome for Result<T, E> {
    fn passed(&self) -> bool {
        self.is_ok()
    }
}

thread_local! {
    /// The test running on this thread: its module and name, for [`log`].
    static CURRENT: std::cell::Cell<Option<(&'static str, &'static str)>> = const { std::cell::Cell::new(None) };
}

/// Logs a point of your own from inside a test, through the test process's logger, with the
/// test's tags (`test`, `module`, `name`, `run_id`, `host` and the environment's) added to
/// `tags` — the handle the pytest plugin's `datalogger` fixture is. The test is the one running
/// on this thread (in an async test on a multi-threaded runtime, log before the first `.await`
/// or give the tags yourself). `measurement` must declare those tags (optional ones will do).
///
/// # Errors
/// What [`DataLogger::log`] returns; `Ok` without logging when tests are not recorded.
pub fn log<F: crate::FieldInput>(
    measurement: &Measurement,
    fields: &[F],
    tags: &[(&str, &str)],
) -> crate::Result<()> {
    let Some(recorder) = recorder() else {
        return Ok(());
    };
    let current = CURRENT.with(std::cell::Cell::get);
    let test = current.map(|(module, name)| format!("{module}::{name}"));
    let mut added: Vec<(&str, &str)> = Vec::new();
    if let (Some((module, name)), Some(test)) = (current, test.as_deref()) {
        added.extend([("test", test), ("module", module), ("name", name)]);
    }
    added.extend(recorder.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // The test's tags the measurement declares and the call does not give.
    let mut all: Vec<(&str, &str)> = tags.to_vec();
    for (key, value) in added {
        if measurement.has_tag(key) && !tags.iter().any(|(k, _)| *k == key) {
            all.push((key, value));
        }
    }
    recorder.logger.log(measurement, fields, &all)
}

impl TestRun {
    /// A test starting now.
    pub fn start(module: &'static str, name: &'static str, should_panic: bool) -> Self {
        CURRENT.with(|current| current.set(Some((module, name))));
        let resources = recorder().is_some_and(|r| r.resources);
        TestRun {
            module,
            name,
            should_panic,
            at: Timestamp::now(),
            recorded: false,
            cpu_started: resources.then(thread_cpu_time).flatten(),
            memory: MemoryMark::now(),
            started: Instant::now(),
        }
    }

    /// The test returned `result`: records it. (A `#[should_panic]` test that returns failed.)
    pub fn finish<R: TestOutcome>(mut self, result: &R) {
        let passed = result.passed() && !self.should_panic;
        self.record(passed);
    }

    fn record(&mut self, passed: bool) {
        self.recorded = true;
        CURRENT.with(|current| current.set(None));
        let seconds = self.started.elapsed().as_secs_f64();
        // On the stack: a test's point costs no allocation of its own.
        let mut fields = [const { FieldArg("", None) }; 4];
        fields[0] = FieldArg("call", Some(FieldValue::Float(seconds)));
        let mut count = 1;
        // Only when asked for: reading a thread's CPU time is a system call.
        if let Some(start) = self.cpu_started {
            let cpu = thread_cpu_time().map_or(0.0, |now| now.saturating_sub(start).as_secs_f64());
            fields[count] = FieldArg("cpu_time", Some(FieldValue::Float(cpu)));
            count += 1;
        }
        if let Some((allocated, peak)) = self.memory.and_then(MemoryMark::since) {
            let bytes = |n: u64| Some(FieldValue::UInt(n.min(i64::MAX as u64)));
            fields[count] = FieldArg("alloc_bytes", bytes(allocated));
            fields[count + 1] = FieldArg("peak_bytes", bytes(peak));
            count += 2;
        }
        if let Some(recorder) = recorder() {
            recorder.record(self.module, self.name, passed, &fields[..count], self.at);
        }
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        if !self.recorded {
            // Not finished: the test panicked (or its future was dropped).
            let panicked = std::thread::panicking();
            self.record(panicked && self.should_panic);
        }
    }
}

/// The process's logger and the tags every point gets.
struct Recorder {
    logger: DataLogger,
    measurement: Measurement,
    tags: Vec<(String, String)>,
    /// `INFLUXDB_DATALOGGER_RESOURCES`: record each test's CPU time.
    resources: bool,
}

impl Recorder {
    fn record(
        &self,
        module: &str,
        name: &str,
        passed: bool,
        fields: &[FieldArg<'_>],
        at: Timestamp,
    ) {
        let case = case_of(name);
        let test = match &case {
            Some(case) => format!("{module}::{name}::{case}"),
            None => format!("{module}::{name}"),
        };
        let mut tags: Vec<(&str, &str)> = vec![
            ("test", &test),
            ("module", module),
            ("name", name),
            ("outcome", if passed { "passed" } else { "failed" }),
        ];
        if let Some(case) = &case {
            tags.push(("param", case));
        }
        tags.extend(self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let logged = self.logger.log_at(&self.measurement, fields, &tags, at);
        if let Err(e) = logged {
            eprintln!("influxdb-datalogger: the point of test {test} was not logged: {e:#}");
        }
    }
}

/// The case of test function `name` that this thread runs, when the test is one of several
/// cases of one function (rstest's `#[case]`s, `#[values]`): libtest names a test's thread after
/// the test, and the generated cases live in a module named after the function
/// (`doubles::case_1`), so what follows `name` in the thread's name is the case.
fn case_of(name: &str) -> Option<String> {
    let thread = std::thread::current();
    let path = thread.name()?;
    // The usual case, a plain test: its thread is named `…::name`.
    if path
        .strip_suffix(name)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with("::"))
    {
        return None;
    }
    let segments: Vec<&str> = path.split("::").collect();
    let at = segments.iter().rposition(|s| *s == name)?;
    let case = segments[at + 1..].join("::");
    (!case.is_empty()).then_some(case)
}

static RECORDER: OnceLock<Option<Recorder>> = OnceLock::new();

fn recorder() -> Option<&'static Recorder> {
    RECORDER
        .get_or_init(|| match Recorder::from_env() {
            Ok(recorder) => {
                at_exit::register();
                Some(recorder)
            }
            Err(e) => {
                eprintln!("influxdb-datalogger: tests are not recorded: {e:#}");
                None
            }
        })
        .as_ref()
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Recorder {
    fn from_env() -> crate::Result<Self> {
        let name = var("INFLUXDB_DATALOGGER_MEASUREMENT").unwrap_or_else(|| "cargo_test".into());
        let mut tags = vec![("run_id".to_string(), run_id())];
        let off = var("INFLUXDB_DATALOGGER_RUN_TAGS_OFF").unwrap_or_default();
        let off: Vec<&str> = off.split(',').map(str::trim).collect();
        tags.extend(
            run_tags()
                .into_iter()
                .filter(|(key, _)| !off.contains(&key.as_str())),
        );
        for (key, value) in std::env::vars() {
            if let Some(tag) = key.strip_prefix("INFLUXDB_DATALOGGER_TAG_") {
                if !tag.is_empty() && !value.is_empty() {
                    tags.push((tag.to_ascii_lowercase(), value));
                }
            }
        }
        let resources = match var("INFLUXDB_DATALOGGER_RESOURCES").as_deref() {
            None => false,
            Some(value) => crate::conn_str::parse_bool("INFLUXDB_DATALOGGER_RESOURCES", value)?,
        } && thread_cpu_time().is_some();
        let mut measurement = Measurement::builder(name)
            .field(Field::new("call"))
            .optional_tag(Tag::new("param"));
        if resources {
            measurement = measurement.field(Field::new("cpu_time"));
        }
        // A CountingAllocator has allocated long before the first test starts.
        if MemoryMark::now().is_some() {
            measurement = measurement
                .field(Field::new("alloc_bytes"))
                .field(Field::new("peak_bytes"));
        }
        for key in ["test", "module", "name", "outcome"]
            .into_iter()
            .chain(tags.iter().map(|(k, _)| k.as_str()))
        {
            measurement = measurement.tag(Tag::new(key));
        }
        let measurement = measurement.build()?;
        let target = target_dir();
        let mut builder = DataLogger::builder().continuous_write(true);
        match var("INFLUXDB_DATALOGGER_URL") {
            Some(url) => {
                builder = builder.writer(server_writer(&url)?);
                match crate::SpoolOptions::from_env()? {
                    crate::SpoolFromEnv::On(options) => builder = builder.spool(options),
                    crate::SpoolFromEnv::Off => {}
                    _ => {
                        builder = builder.spool(crate::SpoolOptions::new(
                            target.join("influxdb-datalogger-spool"),
                        ));
                    }
                }
            }
            None => {
                let file =
                    crate::LineProtocolFileWriter::new(target.join("influxdb-datalogger.lp"));
                builder = builder.writer(crate::BackgroundWriter::new(
                    file,
                    crate::DeliveryOptions::default(),
                ));
            }
        }
        Ok(Recorder {
            logger: builder.try_build()?,
            measurement,
            tags,
            resources,
        })
    }
}

#[cfg(feature = "http")]
fn server_writer(url: &str) -> crate::Result<crate::BackgroundWriter> {
    let config = crate::InfluxConfig::parse_conn_str(url)?;
    Ok(crate::InfluxDBWriter::new(config)?.in_background(crate::DeliveryOptions::default()))
}

#[cfg(not(feature = "http"))]
fn server_writer(_url: &str) -> crate::Result<crate::BackgroundWriter> {
    Err(crate::Error::new(
        crate::ErrorKind::InvalidArgument,
        "INFLUXDB_DATALOGGER_URL needs the crate's default feature `http`",
    ))
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, else the one the test binary was built in
/// (`<target>/<profile>/deps/<binary>`), else `target`.
fn target_dir() -> std::path::PathBuf {
    if let Some(dir) = var("CARGO_TARGET_DIR") {
        return dir.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| "target".into())
}

/// The circumstances of the run, as the pytest plugin tags them: `host`, `os`, `cpu`, `cores`,
/// `git_commit`, `git_branch`, `git_dirty` (in a git checkout), `ci` and `ci_job` (on a CI).
fn run_tags() -> Vec<(String, String)> {
    let mut tags = vec![
        ("host".to_string(), host()),
        ("os".to_string(), std::env::consts::OS.to_string()),
    ];
    if let Some(cpu) = cpu_model() {
        tags.push(("cpu".into(), cpu));
    }
    if let Ok(cores) = std::thread::available_parallelism() {
        tags.push(("cores".into(), cores.to_string()));
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let Some(commit) = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty()) {
        tags.push(("git_commit".into(), commit));
        if let Some(branch) = git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| !b.is_empty())
        {
            tags.push(("git_branch".into(), branch));
        }
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        tags.push(("git_dirty".into(), dirty.to_string()));
    }
    if let Some((provider, job)) = ci_job() {
        tags.push(("ci".into(), provider.into()));
        tags.push(("ci_job".into(), job));
    }
    tags
}

/// The CI provider and job this process runs in, from the variables each sets (first match):
/// GitHub, GitLab, Jenkins, CircleCI, Buildkite, Azure, Travis, TeamCity. The pytest plugin
/// asks this too.
pub fn ci_job() -> Option<(&'static str, String)> {
    const CI_JOBS: [(&str, &str); 8] = [
        ("github", "GITHUB_RUN_ID"),
        ("gitlab", "CI_JOB_ID"),
        ("jenkins", "BUILD_TAG"),
        ("circleci", "CIRCLE_WORKFLOW_JOB_ID"),
        ("buildkite", "BUILDKITE_JOB_ID"),
        ("azure", "SYSTEM_JOBID"),
        ("travis", "TRAVIS_JOB_ID"),
        ("teamcity", "BUILD_NUMBER"),
    ];
    CI_JOBS
        .iter()
        .find_map(|(provider, variable)| Some((*provider, var(variable)?)))
}

fn host() -> String {
    let name = gethostname::gethostname();
    let name = name.to_string_lossy().trim().to_string();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// `INFLUXDB_DATALOGGER_RUN_ID`, else one for the parent process (cargo): the test binaries of
/// one `cargo test` share it.
fn run_id() -> String {
    if let Some(given) = var("INFLUXDB_DATALOGGER_RUN_ID") {
        return given;
    }
    parent_run_id()
}

#[cfg(unix)]
fn parent_run_id() -> String {
    let parent = std::os::unix::process::parent_id();
    // The parent's start time (in clock ticks since boot) tells apart two cargos that had the
    // same process id; only Linux says it so simply.
    let started = std::fs::read_to_string(format!("/proc/{parent}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = &stat[stat.rfind(')')? + 2..];
            after_name.split(' ').nth(19).map(str::to_string)
        });
    match started {
        Some(started) => format!("cargo-{parent}-{started}"),
        None => format!(
            "cargo-{parent}-{}",
            Timestamp::now().as_nanos() / 3_600_000_000_000
        ),
    }
}

#[cfg(not(unix))]
fn parent_run_id() -> String {
    // No portable parent id: the hour, which the binaries of one run almost always share.
    format!("cargo-{}", Timestamp::now().as_nanos() / 3_600_000_000_000)
}

#[cfg(unix)]
mod at_exit {
    extern "C" fn flush() {
        if let Some(Some(recorder)) = super::RECORDER.get() {
            let deadline = std::time::Instant::now() + super::EXIT_FLUSH;
            let _ = recorder.logger.flush_writers_at_exit(deadline);
        }
    }

    /// Has the process wait for its points at exit: libtest gives no end hook, and its `main`
    /// ends in `exit`, which runs what `atexit` registered.
    pub(super) fn register() {
        #[allow(unsafe_code)]
        // SAFETY: `flush` is an `extern "C" fn()` that lives for the whole program; it only
        // reads a `OnceLock` that is set before it is registered.
        unsafe {
            libc::atexit(flush);
        }
    }
}

#[cfg(not(unix))]
mod at_exit {
    /// No exit hook here: what the background writer has not delivered when the process ends
    /// waits in the spool for the next run.
    pub(super) fn register() {}
}

#[cfg(test)]
mod tests {
    use super::case_of;

    #[test]
    fn a_case_is_what_follows_the_function_in_the_test_threads_name() {
        let named = |thread: &str, function: &'static str| {
            std::thread::Builder::new()
                .name(thread.to_string())
                .spawn(move || case_of(function))
                .unwrap()
                .join()
                .unwrap()
        };
        assert_eq!(
            named("tests::doubles::case_1", "doubles"),
            Some("case_1".into())
        );
        assert_eq!(
            named("doubles::case_2_big", "doubles"),
            Some("case_2_big".into())
        );
        assert_eq!(
            named("m::grid::x_1_y_2::z_3", "grid"),
            Some("x_1_y_2::z_3".into()),
            "rstest's #[values] nest a module per parameter"
        );
        assert_eq!(named("tests::passes", "passes"), None);
        assert_eq!(named("passes", "passes"), None);
        assert_eq!(named("main", "passes"), None, "not libtest's thread");
    }
}
