//! `tether kill`, `wait` and `stop` with the identity of a process whose PID was handed out
//! again act on nothing and exit 1 (an identity mismatch). Runs inside a new PID namespace, where every process is the test's own.

mod common;

use std::process::Command;

use common::*;

const SCRIPT: &str = r#"
set -u
T="$1"
sleep 300 & P=$!
ID=$("$T" ps --pid "$P" --fields identity | tail -n 1)
kill "$P"; wait "$P" 2>/dev/null
N=0
for _ in $(seq 1 50); do
  echo $((P - 1)) > /proc/sys/kernel/ns_last_pid
  sleep 300 & N=$!
  [ "$N" = "$P" ] && break
  kill "$N"; wait "$N" 2>/dev/null
done
[ "$N" = "$P" ] || { echo "pid not reused"; exit 90; }
"$T" kill -s KILL "$ID"; echo "kill_rc=$?"
"$T" wait -t 1 "$ID"; echo "wait_rc=$?"
"$T" stop --grace 1 "$ID"; echo "stop_rc=$?"
"$T" info "$ID" --json | grep -o '"kind": "[a-z_]*"'
kill -0 "$N" && echo "new process alive"
kill "$N"; wait "$N" 2>/dev/null
exit 0
"#;

#[test]
fn kill_with_stale_identity_signals_nothing() {
    let out = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
            "-c",
            SCRIPT,
            "script",
        ])
        .arg(bin())
        .output()
        .expect("unshare runs");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("kill_rc=1"), "{text}");
    // An identity whose PID now names another process: a mismatch, not "already gone".
    assert!(text.contains("wait_rc=1"), "{text}");
    assert!(text.contains("stop_rc=1"), "{text}");
    assert!(text.contains("\"kind\": \"identity_mismatch\""), "{text}");
    assert!(text.contains("new process alive"), "{text}");
}
