//! `fs::write_atomic` under SIGKILL: a writer process replaces one JSON file in a loop, with
//! content that grows and changes size every time, and is killed at random moments, hundreds of
//! times. After every kill the file must be absent (before the first write) or a complete,
//! parseable version — the previous one or a new one, never torn, empty or older.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

const INNER: &str = "TETHER_WRITE_ATOMIC_WRITER";
const KILLS: usize = 300;
/// What the writer says on stderr once its first version is in place.
const WRITING: &[u8] = b"\x01writing\x01";

/// The padding of version `seq`: its length changes every version (up to ~24 KiB, several
/// pages) and its letter too, so a mix of two versions cannot pass for one.
fn pad(seq: u64) -> String {
    let len = (seq * 7919 % 24_000) as usize;
    let letter = (b'a' + (seq % 26) as u8) as char;
    letter.to_string().repeat(len)
}

/// The version in the file, checked whole; `None` when there is no file.
fn version(path: &Path) -> Option<u64> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("reading {}: {e}", path.display()),
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "torn or empty file ({} bytes): {e}: {:?}",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        )
    });
    let seq = v["seq"].as_u64().expect("seq");
    assert_eq!(v["pad"].as_str(), Some(pad(seq).as_str()), "version {seq}");
    Some(seq)
}

/// The writer: continues from the version in the file, says it is running, and replaces the
/// file until it is killed.
fn writer(path: &Path) -> ! {
    use std::io::Write;
    let mut seq = version(path).unwrap_or(0);
    let mut said = false;
    loop {
        seq += 1;
        let text = serde_json::json!({ "seq": seq, "pad": pad(seq) }).to_string();
        tether::fs::write_atomic(path, text.as_bytes()).unwrap();
        if !said {
            // On stderr: libtest writes its own lines to stdout.
            std::io::stderr().write_all(WRITING).unwrap();
            said = true;
        }
    }
}

/// Read the writer's stderr until it says it is writing.
fn wait_for_marker(r: &mut impl Read) {
    let mut seen = Vec::new();
    let mut b = [0u8; 1];
    while !seen.ends_with(WRITING) {
        match r.read(&mut b) {
            Ok(1) => seen.push(b[0]),
            _ => panic!("the writer died: {}", String::from_utf8_lossy(&seen)),
        }
    }
}

/// Kills the writer when dropped, so that a failed assertion leaves nothing behind.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn writer_killed_at_random_never_leaves_a_torn_file() {
    if let Some(path) = std::env::var_os(INNER) {
        writer(Path::new(&path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let exe = std::env::current_exe().unwrap();
    // xorshift, seeded from the clock: a different schedule of kills every run.
    let mut rng = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut last = None;
    let mut versions = 0;
    for i in 0..KILLS {
        let mut g = Guard(
            Command::new(&exe)
                .args([
                    "--exact",
                    "writer_killed_at_random_never_leaves_a_torn_file",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(INNER, &path)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // Some kills land during start-up (before or during the first write), the rest while
        // the writer is looping, at a random point up to 3 ms in.
        if i % 10 != 0 {
            wait_for_marker(g.0.stderr.as_mut().unwrap());
            std::thread::sleep(Duration::from_micros(next() % 3000));
        }
        g.0.kill().unwrap();
        g.0.wait().unwrap();
        let now = version(&path);
        assert!(now >= last, "went back from {last:?} to {now:?}");
        if now != last {
            versions += 1;
        }
        last = now;
    }
    // Every writer that was not killed during start-up wrote at least one version.
    assert!(versions >= KILLS * 9 / 10, "only {versions} new versions");
}
