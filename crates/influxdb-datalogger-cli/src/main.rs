use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(influxdb_datalogger_cli::run(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    ))
}
