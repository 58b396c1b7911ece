//! A logger made before `fork()`, used in the child: refused with a clear error, and dropping it
//! there leaves the parent's spool and delivery untouched. The child makes its own logger.
#![cfg(unix)]
// fork, waitpid and _exit are C calls.
#![allow(unsafe_code)]

use std::path::Path;

use influxdb_datalogger::{
    fields, tags, DataLogger, ErrorKind, Field, LineProtocolFileWriter, Measurement, SpoolOptions,
    Tag,
};

fn measurement() -> Measurement {
    Measurement::builder("m")
        .field(Field::new("v"))
        .tag(Tag::new("who"))
        .build()
        .unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// What the child does; its exit code says which step failed (0: all held).
fn in_child(parent_logger: DataLogger, m: &Measurement, own_file: &Path) -> i32 {
    if !parent_logger.is_forked_copy() {
        return 10;
    }
    let err = parent_logger
        .log(m, fields!("v" => 1.0), tags!("who" => "child"))
        .unwrap_err();
    if err.kind() != ErrorKind::ForkedProcess
        || !err.message().contains("make a DataLogger in the child")
    {
        return 11;
    }
    if parent_logger.write_data().map_err(|e| e.kind()) != Err(ErrorKind::ForkedProcess) {
        return 12;
    }
    drop(parent_logger);
    let own = DataLogger::builder()
        .writer(LineProtocolFileWriter::new(own_file))
        .build();
    if own.is_forked_copy()
        || own
            .log(m, fields!("v" => 2.0), tags!("who" => "child"))
            .is_err()
    {
        return 13;
    }
    drop(own);
    0
}

#[test]
fn a_forked_child_is_refused_the_parents_logger_and_cannot_harm_it() {
    let dir = tempfile::tempdir().unwrap();
    let (parent_file, child_file) = (dir.path().join("parent.lp"), dir.path().join("child.lp"));
    let spool = dir.path().join("spool");
    let m = measurement();
    let logger = DataLogger::builder()
        .writer(LineProtocolFileWriter::new(&parent_file))
        .spool(SpoolOptions::new(&spool))
        .build();
    logger
        .log(&m, fields!("v" => 1.0), tags!("who" => "before"))
        .unwrap();
    // The segment and the owner's lock (not the next segment, which a thread of the parent's
    // prepares whenever it likes).
    let spool_files = || {
        let mut names: Vec<_> = std::fs::read_dir(&spool)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".next"))
            .collect();
        names.sort();
        names
    };
    let before = spool_files();

    // SAFETY: the child only runs this test's code and leaves with `_exit`, never returning
    // into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = in_child(logger, &m, &child_file);
        // SAFETY: ends the child without running the harness's exit code.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child this test forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "the child died: {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the step that failed in the child"
    );

    assert_eq!(
        spool_files(),
        before,
        "the child touched the parent's spool"
    );
    logger
        .log(&m, fields!("v" => 3.0), tags!("who" => "after"))
        .unwrap();
    logger.close().unwrap();
    assert_eq!(lines(&parent_file), ["m,who=before", "m,who=after"]);
    assert_eq!(lines(&child_file), ["m,who=child"]);
}
