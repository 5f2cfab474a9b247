//! psutil's attribute names, mapped onto tether's fields, and their Python values.
//!
//! | attribute     | tether field(s)     | Python value                                    |
//! |---------------|---------------------|-------------------------------------------------|
//! | `pid`         | (always)            | `int`                                           |
//! | `ppid`        | `ppid`              | `int`                                           |
//! | `pgid`        | `pgid`              | `int` (tether's; psutil has none)               |
//! | `sid`         | `sid`               | `int` (tether's)                                |
//! | `name`        | `name`              | `str`: the kernel's comm, at most 15 bytes      |
//! | `exe`         | `exe`               | `str`, or `None` (kernel threads, zombies)      |
//! | `cmdline`     | `cmdline`           | `list[str]`                                     |
//! | `username`    | `user`              | `str` (the uid as text when it has no name)     |
//! | `uid`         | `uid`               | `int`: the effective uid (tether's)             |
//! | `status`      | `state`             | `str`, psutil's spellings (`"disk-sleep"`)      |
//! | `create_time` | `start`             | `float`, Unix time in seconds                   |
//! | `memory_info` | `rss`, `vsz`        | `MemoryInfo(rss, vms)` in bytes                 |
//! | `cpu_times`   | `cpu_time`          | `CpuTimes(user, system)` in seconds             |
//! | `cpu_percent` | `cpu`               | `float`: lifetime average, or sampled           |
//! | `num_threads` | `threads`           | `int`                                           |
//! | `terminal`    | `tty`               | `str` (`"/dev/pts/3"`) or `None`                |
//! | `environ`     | `env`               | `dict[str, str]`                                |
//! | `identity`    | `identity`          | `ProcessIdentity`                               |

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::IntoPyObjectExt;
use tether::inspect::{Field, FieldSet, ProcessInfo, ProcessState};

use crate::convert::{secs, unix_secs};
use crate::error::invalid;
use crate::identity::PyIdentity;

/// One attribute a caller may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Pid,
    Ppid,
    Pgid,
    Sid,
    Name,
    Exe,
    Cmdline,
    Username,
    Uid,
    Status,
    CreateTime,
    MemoryInfo,
    CpuTimes,
    CpuPercent,
    NumThreads,
    Terminal,
    Environ,
    Identity,
}

impl Attr {
    /// Every attribute, in the order `attrs=None` returns them.
    pub const ALL: [Attr; 18] = [
        Attr::Pid,
        Attr::Ppid,
        Attr::Pgid,
        Attr::Sid,
        Attr::Name,
        Attr::Exe,
        Attr::Cmdline,
        Attr::Username,
        Attr::Uid,
        Attr::Status,
        Attr::CreateTime,
        Attr::MemoryInfo,
        Attr::CpuTimes,
        Attr::CpuPercent,
        Attr::NumThreads,
        Attr::Terminal,
        Attr::Environ,
        Attr::Identity,
    ];

    /// The attribute's name (psutil's where psutil has it).
    pub fn name(self) -> &'static str {
        match self {
            Attr::Pid => "pid",
            Attr::Ppid => "ppid",
            Attr::Pgid => "pgid",
            Attr::Sid => "sid",
            Attr::Name => "name",
            Attr::Exe => "exe",
            Attr::Cmdline => "cmdline",
            Attr::Username => "username",
            Attr::Uid => "uid",
            Attr::Status => "status",
            Attr::CreateTime => "create_time",
            Attr::MemoryInfo => "memory_info",
            Attr::CpuTimes => "cpu_times",
            Attr::CpuPercent => "cpu_percent",
            Attr::NumThreads => "num_threads",
            Attr::Terminal => "terminal",
            Attr::Environ => "environ",
            Attr::Identity => "identity",
        }
    }

    /// The tether fields it is read from.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Attr::Pid => &[Field::Pid],
            Attr::Ppid => &[Field::Ppid],
            Attr::Pgid => &[Field::Pgid],
            Attr::Sid => &[Field::Sid],
            Attr::Name => &[Field::Name],
            Attr::Exe => &[Field::Exe],
            Attr::Cmdline => &[Field::Cmdline],
            Attr::Username => &[Field::User],
            Attr::Uid => &[Field::Uid],
            Attr::Status => &[Field::State],
            Attr::CreateTime => &[Field::Start],
            Attr::MemoryInfo => &[Field::Rss, Field::Vsz],
            Attr::CpuTimes => &[Field::CpuTime],
            Attr::CpuPercent => &[Field::Cpu],
            Attr::NumThreads => &[Field::Threads],
            Attr::Terminal => &[Field::Tty],
            Attr::Environ => &[Field::Env],
            Attr::Identity => &[Field::Identity],
        }
    }

    /// The name under which the library lists the field in `ProcessInfo::denied` when this
    /// user may not read it.
    fn denied_as(self) -> Option<&'static str> {
        match self {
            Attr::Exe => Some(Field::Exe.name()),
            Attr::Environ => Some(Field::Env.name()),
            _ => None,
        }
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The attribute named `s`, with advice when `s` is a tether field name or a psutil
    /// attribute tether does not read.
    pub fn parse(s: &str) -> PyResult<Attr> {
        if let Some(a) = Attr::ALL.into_iter().find(|a| a.name() == s) {
            return Ok(a);
        }
        let hint = match s {
            "user" => " (use 'username')".to_string(),
            "state" => " (use 'status')".to_string(),
            "rss" | "vsz" | "vms" | "memory_full_info" => " (use 'memory_info')".to_string(),
            "start" | "start_time" => " (use 'create_time')".to_string(),
            "threads" => " (use 'num_threads')".to_string(),
            "tty" => " (use 'terminal')".to_string(),
            "env" => " (use 'environ')".to_string(),
            "cpu_time" => " (use 'cpu_times')".to_string(),
            "cpu" => " (use 'cpu_percent')".to_string(),
            "uids" => " (tether reads the effective uid: use 'uid')".to_string(),
            _ => String::new(),
        };
        let known: Vec<&str> = Attr::ALL.iter().map(|a| a.name()).collect();
        Err(invalid(format!(
            "invalid attr name '{s}'{hint}; known: {}",
            known.join(", ")
        )))
    }

    /// Its Python value in `p` (`ad_value` when this user may not read it).
    pub fn value(
        self,
        py: Python<'_>,
        p: &ProcessInfo,
        ad_value: &Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(d) = self.denied_as() {
            if p.denied.iter().any(|x| x == d) {
                return Ok(ad_value.clone_ref(py));
            }
        }
        let none = || Ok(py.None());
        Ok(match self {
            Attr::Pid => p.pid.into_py_any(py)?,
            Attr::Ppid => opt(py, p.ppid)?,
            Attr::Pgid => opt(py, p.pgid)?,
            Attr::Sid => opt(py, p.sid)?,
            Attr::Name => opt(py, p.name.as_deref())?,
            Attr::Exe => opt(py, p.exe.as_deref())?,
            Attr::Cmdline => match &p.cmdline {
                Some(c) => PyList::new(py, c)?.into_any().unbind(),
                None => return none(),
            },
            Attr::Username => opt(py, p.user.as_deref())?,
            Attr::Uid => opt(py, p.uid)?,
            Attr::Status => match p.state {
                Some(st) => status_str(py, st).clone_ref(py).into_any(),
                None => return none(),
            },
            Attr::CreateTime => opt(py, p.start_time.map(unix_secs))?,
            Attr::MemoryInfo => match (p.rss_bytes, p.vsize_bytes) {
                (Some(rss), Some(vms)) => named(
                    py,
                    &MEMORY_INFO,
                    "MemoryInfo",
                    PyTuple::new(py, [rss, vms])?,
                )?,
                _ => return none(),
            },
            Attr::CpuTimes => match (p.cpu_user, p.cpu_system) {
                (Some(u), Some(s)) => named(
                    py,
                    &CPU_TIMES,
                    "CpuTimes",
                    PyTuple::new(py, [secs(u), secs(s)])?,
                )?,
                _ => return none(),
            },
            Attr::CpuPercent => opt(py, p.cpu_percent)?,
            Attr::NumThreads => opt(py, p.threads)?,
            Attr::Terminal => opt(py, p.tty.as_ref().map(|t| format!("/dev/{t}")))?,
            Attr::Environ => match &p.environ {
                Some(env) => {
                    let d = PyDict::new(py);
                    for kv in env {
                        // A string without '=' is kept as a name with an empty value.
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        d.set_item(k, v)?;
                    }
                    d.into_any().unbind()
                }
                None => return none(),
            },
            Attr::Identity => match &p.identity {
                Some(id) => Py::new(py, PyIdentity::new(id.clone()))?.into_any(),
                None => return none(),
            },
        })
    }
}

/// psutil's spelling of a state (`psutil.STATUS_*`).
pub fn status(s: ProcessState) -> &'static str {
    match s {
        ProcessState::Running => "running",
        ProcessState::Sleeping => "sleeping",
        ProcessState::DiskSleep => "disk-sleep",
        ProcessState::Zombie => "zombie",
        ProcessState::Stopped => "stopped",
        ProcessState::TracingStop => "tracing-stop",
        ProcessState::Dead => "dead",
        ProcessState::Idle => "idle",
        ProcessState::Parked => "parked",
        ProcessState::Waking => "waking",
        _ => "unknown",
    }
}

/// The status strings as Python strings, made once (every record has one).
fn status_str(py: Python<'_>, s: ProcessState) -> &Py<PyString> {
    static ALL: PyOnceLock<Vec<(ProcessState, Py<PyString>)>> = PyOnceLock::new();
    const STATES: [ProcessState; 11] = [
        ProcessState::Running,
        ProcessState::Sleeping,
        ProcessState::DiskSleep,
        ProcessState::Zombie,
        ProcessState::Stopped,
        ProcessState::TracingStop,
        ProcessState::Dead,
        ProcessState::Idle,
        ProcessState::Parked,
        ProcessState::Waking,
        ProcessState::Unknown,
    ];
    let all = ALL.get_or_init(py, || {
        STATES
            .iter()
            .map(|&st| (st, PyString::intern(py, status(st)).unbind()))
            .collect()
    });
    // A state added to the library later reads as "unknown", the last entry.
    &all.iter()
        .find(|(st, _)| *st == s)
        .unwrap_or(&all[all.len() - 1])
        .1
}

fn opt<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: Option<T>) -> PyResult<Py<PyAny>> {
    match v {
        Some(v) => v.into_py_any(py),
        None => Ok(py.None()),
    }
}

static MEMORY_INFO: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CPU_TIMES: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// An instance of the named tuple `name` of `tether._types`, made with `tuple.__new__` directly
/// (a named tuple's own `__new__` is Python code, several times slower, and `process_iter`
/// makes thousands).
fn named<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    values: Bound<'py, PyTuple>,
) -> PyResult<Py<PyAny>> {
    static TUPLE_NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let cls = cell.import(py, "tether._types", name)?;
    let new = TUPLE_NEW.get_or_try_init(py, || {
        py.get_type::<PyTuple>()
            .getattr("__new__")
            .map(Bound::unbind)
    })?;
    Ok(new.bind(py).call1((cls, values))?.unbind())
}

/// The attributes a caller asked for, their dict keys, and the value for unreadable ones.
#[derive(Debug)]
pub struct Spec {
    /// In the order asked, without repeats.
    pub attrs: Vec<Attr>,
    /// Their names as Python strings (made once, shared by every record's `info` dict).
    pub keys: Vec<Py<PyString>>,
    mask: u32,
    /// A dict of the keys (values None), copied for each record's `info`.
    pub template: Py<PyDict>,
    /// psutil's `ad_value`: the value of attributes this user may not read.
    pub ad_value: Py<PyAny>,
}

impl Spec {
    /// From `attrs` (an iterable of names; `None`: every attribute but `environ`).
    pub fn new(
        py: Python<'_>,
        attrs: Option<&Bound<'_, PyAny>>,
        ad_value: Option<Py<PyAny>>,
    ) -> PyResult<Spec> {
        let mut list: Vec<Attr> = Vec::new();
        match attrs {
            None => list.extend(Attr::ALL.into_iter().filter(|a| *a != Attr::Environ)),
            Some(a) if a.is_none() => {
                list.extend(Attr::ALL.into_iter().filter(|a| *a != Attr::Environ))
            }
            Some(a) if a.is_instance_of::<PyString>() => {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "attrs must be a list of attribute names, not a str",
                ))
            }
            Some(a) => {
                for item in a.try_iter()? {
                    let item = item?;
                    let name = item.cast::<PyString>().map_err(|_| {
                        pyo3::exceptions::PyTypeError::new_err(
                            "attrs must be a list of attribute names (str)",
                        )
                    })?;
                    let attr = Attr::parse(&name.to_cow()?)?;
                    if !list.contains(&attr) {
                        list.push(attr);
                    }
                }
            }
        }
        let keys: Vec<Py<PyString>> = list
            .iter()
            .map(|a| PyString::intern(py, a.name()).unbind())
            .collect();
        let mask = list.iter().fold(Attr::Pid.bit(), |m, a| m | a.bit());
        let template = PyDict::new(py);
        for k in &keys {
            template.set_item(k.bind(py), py.None())?;
        }
        Ok(Spec {
            attrs: list,
            keys,
            mask,
            template: template.unbind(),
            ad_value: ad_value.unwrap_or_else(|| py.None()),
        })
    }

    /// Whether `a` was asked for (`pid` always is).
    pub fn has(&self, a: Attr) -> bool {
        self.mask & a.bit() != 0
    }

    /// The tether fields to read.
    pub fn fields(&self) -> FieldSet {
        let mut s = FieldSet::empty();
        for a in &self.attrs {
            for f in a.fields() {
                s.insert(*f);
            }
        }
        s
    }
}
