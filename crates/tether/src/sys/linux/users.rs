//! uid → user name, through the C library's NSS lookup, cached for the life of the process.

use std::collections::HashMap;
use std::sync::Mutex;

static CACHE: Mutex<Option<HashMap<u32, Option<String>>>> = Mutex::new(None);

/// The login name of `uid`, or `None` when it has none.
pub fn name_of(uid: u32) -> Option<String> {
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    map.entry(uid).or_insert_with(|| lookup(uid)).clone()
}

/// The uid of the login `name`, or `None`.
pub fn uid_of(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: passwd is plain data; getpwnam_r writes into it and `buf`, whose size we pass.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        );
        if rc != 0 || out.is_null() {
            return None;
        }
        Some(pw.pw_uid)
    }
}

fn lookup(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: as in `uid_of`.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out);
        if rc != 0 || out.is_null() || pw.pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(pw.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}
