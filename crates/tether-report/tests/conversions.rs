//! Reports built from the typed results of real operations carry the JSON forms: identities as
//! strings, signals by name, durations in milliseconds, and the reasons a status is unknown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tether::signal::{probe, Signal, SignalOptions};
use tether::wait::{wait_many, WaitMode};
use tether::{Process, ProcessRef};
use tether_report::{tagged, KillReport, Report, WaitManyReport, WaitReport};

fn json<R: Report>(r: &R) -> Value {
    serde_json::to_value(tagged(r)).unwrap()
}

#[test]
fn wait_reports_timeout_exit_and_unknown_status() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let t = Process::open(child.id()).unwrap();
    let r = json(&WaitReport::from(
        &t.wait(Some(Duration::from_millis(20))).unwrap(),
    ));
    assert_eq!(r["schema"], "tether.wait/v1");
    assert_eq!(
        (r["timed_out"].as_bool(), r["exited"].as_bool()),
        (Some(true), Some(false))
    );
    let id = r["identity"].as_str().unwrap();
    assert!(id.starts_with(&format!("{}:", child.id())), "{id}");
    assert!(r["waited_ms"].as_u64().unwrap() >= 20, "{r}");
    assert_eq!(r["mechanism"], "pidfd");
    child.kill().unwrap();
    let r = json(&WaitReport::from(&t.wait(None).unwrap()));
    assert_eq!(r["exit"]["signal"], 9, "{r}");
    assert!(r["exit_unknown_reason"].is_null());
    child.wait().unwrap();

    // A grandchild is not our child: its status is unknown, and the report says why.
    let mut sh = Command::new("sh")
        .args(["-c", "sleep 30 & echo $!; read x; kill $!; wait"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sh.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grandchild = Process::open(line.trim().parse().unwrap()).unwrap();
    drop(sh.stdin.take()); // sh kills the sleep, reaps it and exits
    let r = json(&WaitReport::from(&grandchild.wait(None).unwrap()));
    sh.wait().unwrap();
    assert!(r["exit"].is_null());
    assert_eq!(
        r["exit_unknown_reason"],
        "not a child of this process: the kernel reports exit status only to the parent"
    );
}

#[test]
fn wait_many_and_kill_reports() {
    let mut a = Command::new("sleep").arg("30").spawn().unwrap();
    let targets = [ProcessRef::Pid(a.id())];
    let r = wait_many(&targets, WaitMode::Any, Some(Duration::from_millis(10))).unwrap();
    let j = json(&WaitManyReport::from(&r));
    assert_eq!(j["schema"], "tether.wait-many/v1");
    assert_eq!(j["mode"], "any");
    assert_eq!(j["targets"][0]["pid"], a.id());

    let opened = [Process::open(a.id()).unwrap()];
    let probed = probe(&opened, &SignalOptions::default()).unwrap();
    let k = json(&KillReport::new(None, false, false, &probed));
    assert_eq!(
        (k["signal"].as_str(), k["signal_number"].as_i64()),
        (Some("0"), Some(0))
    );
    assert_eq!(k["targets"][0]["outcome"], "exists");
    assert!(k["targets"][0]["identity"].is_string());
    let k = json(&KillReport::new(Some(Signal::TERM), true, false, &probed));
    assert_eq!(
        (k["signal"].as_str(), k["signal_number"].as_i64()),
        (Some("TERM"), Some(15))
    );
    a.kill().unwrap();
    a.wait().unwrap();
}

#[test]
fn run_report_names_signals_and_counts_milliseconds() {
    let outcome = tether::Command::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(50))
        .status()
        .unwrap();
    let exit = tether::run::gnu_exit(&outcome, false);
    let r = json(&tether_report::RunReport::new(&outcome, exit));
    assert_eq!(r["schema"], "tether.run/v1");
    assert_eq!(r["command"], serde_json::json!(["sleep", "30"]));
    assert_eq!(r["exit_code"], 124);
    assert_eq!(r["signals"][0]["signal"], "TERM");
    assert_eq!(r["signals"][0]["reason"], "timeout");
    assert!(r["signals"][0]["at_ms"].as_u64().unwrap() >= 50, "{r}");
    assert_eq!(
        r["elapsed_ms"].as_u64().unwrap(),
        outcome.elapsed.as_millis() as u64
    );
}
