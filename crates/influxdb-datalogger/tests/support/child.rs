//! A program that ends as users' programs end: an ignored test of this test binary, run alone
//! in a child process with some environment, its stderr captured (`--nocapture`).

use std::ffi::OsStr;
use std::process::{Command, Output};

/// Runs the ignored test `name` in a child process with `env` set.
pub fn run_child_test(name: &str, env: &[(&str, &OsStr)]) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--ignored", "--nocapture"])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}
