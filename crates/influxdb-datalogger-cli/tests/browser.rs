//! The report in a real browser: Debian's chromium, headless, from `file://` without a network.

mod support;

use std::path::Path;
use std::process::Command;

use support::reports::{chart_data, history, test_runs};
use support::{cli, text};

/// Debian's chromium, headless, in a network namespace of its own when the system allows one
/// (else with every host unresolvable): it must draw the report from `file://` with no
/// network.
fn chromium(args: &[&str], page: &Path) -> std::process::Output {
    chromium_at(args, page, "")
}

/// [`chromium`] at `page` with `fragment` (`#…`) in the address.
fn chromium_at(args: &[&str], page: &Path, fragment: &str) -> std::process::Output {
    let browser = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium is installed (make browser-deps)");
    let isolated = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let mut command = if isolated {
        let mut c = Command::new("unshare");
        c.args(["-n", browser]);
        c
    } else {
        Command::new(browser)
    };
    let profile = tempfile::tempdir().unwrap();
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args([
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .args(args)
        .arg(format!("file://{}{fragment}", page.display()));
    command.output().unwrap()
}

#[test]
#[ignore = "needs Debian's chromium: make test-integration"]
fn every_chart_draws_in_a_real_browser_without_network_or_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.lp"), history("build") + &test_runs()).unwrap();
    let made = cli(&["report", "h.lp", "-o", "r.html"], dir.path());
    assert!(made.status.success(), "{}", text(&made.stderr));
    let page = dir.path().join("r.html");
    let charts = chart_data(&std::fs::read_to_string(&page).unwrap())["charts"]
        .as_array()
        .unwrap()
        .len();

    let dom = chromium(&["--dump-dom"], &page);
    let (html, log) = (text(&dom.stdout), text(&dom.stderr));
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(!html.contains("<pre id=\"report-errors\">"), "{html}");
    assert!(
        html.contains(&format!("data-charts-drawn=\"{charts}\"")),
        "{charts} charts: {}",
        &html[..200.min(html.len())]
    );
    assert_eq!(html.matches("class=\"uplot").count(), charts);
    let drawn: Vec<usize> = html
        .split("data-drawn=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(drawn.len(), charts);
    assert!(drawn.iter().all(|&n| n > 0), "{drawn:?}");

    // Hovering the middle of the first chart shows the time, value and tags of the nearest
    // point, and the event it falls in.
    let hovered = text(
        &chromium_at(
            &["--dump-dom", "--window-size=1200,1400"],
            &page,
            "#hover-check",
        )
        .stdout,
    );
    let start = hovered.find("data-hover=\"").expect("the hover check ran") + "data-hover=\"".len();
    let tooltip = &hovered[start..start + hovered[start..].find('"').unwrap()];
    let lines: Vec<&str> = tooltip.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{tooltip:?}");
    assert!(
        lines[0].starts_with("20") && lines[0].contains(':'),
        "a time: {tooltip:?}"
    );
    assert!(lines[1].parse::<f64>().is_ok(), "a value: {tooltip:?}");
    assert!(
        lines[2].contains("host=") || lines[2] == "a" || lines[2] == "b",
        "the series: {tooltip:?}"
    );

    let shot = dir.path().join("r.png");
    let out = chromium(
        &[
            "--window-size=1200,1400",
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    assert!(shot.exists(), "{}", text(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> =
        pixels[..info.buffer_size()].chunks(channels).collect();
    let inked = pixels[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p[..3].iter().any(|&c| c < 200))
        .count();
    assert!(
        colours.len() > 50,
        "{} colours: a blank page?",
        colours.len()
    );
    assert!(
        inked * 100 > info.width as usize * info.height as usize,
        "less than 1 % drawn on"
    );
}
