//! `process_iter`, `snapshot` and `get`: process records with psutil's attribute names.

use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyIterator, PyList, PyString};
use tether::inspect::{
    compile_regex, parse_user, Filter, NameMatch, ProcessInfo, ProcessState, Query,
};

use crate::attrs::{Attr, Spec};
use crate::convert;
use crate::error::{invalid, IntoPyResult};
use crate::identity::with_pid;

/// One process as read by `process_iter`, `snapshot` or `get`.
///
/// The requested attributes are properties (`p.name`) and, as in psutil, the `info` dict
/// (`p.info["name"]`). Values are converted to Python objects when first read, so a snapshot
/// costs little more than the /proc reads. An attribute that was not requested raises
/// `AttributeError`; one that this user may not read (`exe`, `environ` of another user's
/// process) is `ad_value` (default `None`); one the process does not have (the `exe` of a
/// kernel thread) is `None`.
#[pyclass(name = "ProcessInfo", module = "tether", frozen)]
pub struct PyProcessInfo {
    info: ProcessInfo,
    spec: Arc<Spec>,
    /// Made on first use. Not a `PyOnceLock`: that one releases the GIL around every first
    /// initialisation (to avoid a deadlock with a blocking init), which costs more than the
    /// dict itself when `process_iter` hands out thousands of records.
    dict: OnceLock<Py<PyDict>>,
}

impl PyProcessInfo {
    /// A record read with `spec`'s fields.
    pub fn new(info: ProcessInfo, spec: Arc<Spec>) -> Self {
        PyProcessInfo {
            info,
            spec,
            dict: OnceLock::new(),
        }
    }

    fn get(&self, py: Python<'_>, a: Attr) -> PyResult<Py<PyAny>> {
        if !self.spec.has(a) {
            return Err(PyAttributeError::new_err(format!(
                "'{}' was not requested: add it to attrs",
                a.name()
            )));
        }
        a.value(py, &self.info, &self.spec.ad_value)
    }
}

#[pymethods]
impl PyProcessInfo {
    /// psutil's `info`: a dict of the requested attributes, made once.
    #[getter]
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        if let Some(d) = self.dict.get() {
            return Ok(d.clone_ref(py));
        }
        // A copy of the spec's template has room for every key (no resizing) and its keys
        // in the requested order.
        let d = self.spec.template.bind(py).copy()?;
        for (a, k) in self.spec.attrs.iter().zip(&self.spec.keys) {
            d.set_item(k.bind(py), a.value(py, &self.info, &self.spec.ad_value)?)?;
        }
        // Another thread may have made it meanwhile (building can run Python code, which may
        // switch threads): the first one stored is everyone's.
        let _ = self.dict.set(d.unbind());
        Ok(self.dict.get().expect("set above").clone_ref(py))
    }

    #[getter]
    fn pid(&self) -> u32 {
        self.info.pid
    }
    #[getter]
    fn ppid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Ppid)
    }
    #[getter]
    fn pgid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Pgid)
    }
    #[getter]
    fn sid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Sid)
    }
    #[getter]
    fn name(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Name)
    }
    #[getter]
    fn exe(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Exe)
    }
    #[getter]
    fn cmdline(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Cmdline)
    }
    #[getter]
    fn username(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Username)
    }
    #[getter]
    fn uid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Uid)
    }
    #[getter]
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Status)
    }
    #[getter]
    fn create_time(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::CreateTime)
    }
    #[getter]
    fn memory_info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::MemoryInfo)
    }
    #[getter]
    fn cpu_times(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::CpuTimes)
    }
    #[getter]
    fn cpu_percent(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::CpuPercent)
    }
    #[getter]
    fn num_threads(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::NumThreads)
    }
    #[getter]
    fn terminal(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Terminal)
    }
    #[getter]
    fn environ(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Environ)
    }
    #[getter]
    fn identity(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, Attr::Identity)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut s = format!("tether.ProcessInfo(pid={}", self.info.pid);
        for a in [Attr::Name, Attr::Status] {
            if self.spec.has(a) {
                let v = a.value(py, &self.info, &self.spec.ad_value)?;
                s.push_str(&format!(", {}={}", a.name(), v.bind(py).repr()?));
            }
        }
        s.push(')');
        Ok(s)
    }
}

/// The filters `process_iter`/`snapshot` take as keyword arguments, for error messages.
const FILTERS: &str = "pids, name, name_contains, name_regex, cmdline, user, ppid, pgid, sid, \
status, min_cpu_percent, min_rss, min_age";

/// An `int` argument of a filter.
fn int<T: for<'a, 'py> FromPyObject<'a, 'py>>(v: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!("{what} must be an int")));
    }
    v.extract()
        .map_err(|_| invalid(format!("{what} is out of range: {v}")))
}

fn string(v: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    v.cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a str")))?
        .extract()
}

/// One value or an iterable of values (a str counts as one).
fn one_or_many<'py>(v: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if v.is_instance_of::<PyString>() || v.is_instance_of::<PyInt>() {
        return Ok(vec![v.clone()]);
    }
    v.try_iter()?.collect()
}

/// The library's filter from keyword arguments; `func` names the function in errors.
fn filter(kwargs: Option<&Bound<'_, PyDict>>, func: &str) -> PyResult<Filter> {
    let mut f = Filter::default();
    let Some(kwargs) = kwargs else {
        return Ok(f);
    };
    let mut names = 0;
    for (k, v) in kwargs.iter() {
        let key: String = k.extract()?;
        if v.is_none() {
            continue; // as if not given
        }
        match key.as_str() {
            "pids" => {
                let pids = one_or_many(&v)?
                    .iter()
                    .map(convert::pid)
                    .collect::<PyResult<Vec<u32>>>()?;
                f.pids = Some(pids);
            }
            "name" => {
                f.name = Some(NameMatch::Exact(string(&v, "name")?));
                names += 1;
            }
            "name_contains" => {
                f.name = Some(NameMatch::Substring(string(&v, "name_contains")?));
                names += 1;
            }
            "name_regex" => {
                f.name = Some(NameMatch::Regex(
                    compile_regex(&string(&v, "name_regex")?).py_err()?,
                ));
                names += 1;
            }
            "cmdline" => f.cmdline = Some(compile_regex(&string(&v, "cmdline")?).py_err()?),
            "user" => {
                f.uid = Some(if v.is_instance_of::<PyInt>() {
                    int(&v, "user")?
                } else {
                    parse_user(&string(&v, "user (a name or a uid)")?).py_err()?
                })
            }
            "ppid" => f.ppid = Some(int(&v, "ppid")?),
            "pgid" => f.pgid = Some(int(&v, "pgid")?),
            "sid" => f.sid = Some(int(&v, "sid")?),
            "status" => {
                let mut states = Vec::new();
                for s in one_or_many(&v)? {
                    let s = string(&s, "status")?;
                    states.push(ProcessState::parse(&s).ok_or_else(|| {
                        invalid(format!(
                            "unknown status '{s}': use running, sleeping, disk-sleep, zombie, \
                             stopped, tracing-stop, dead, idle, parked, waking or a letter (R, S, …)"
                        ))
                    })?);
                }
                f.states = Some(states);
            }
            "min_cpu_percent" => {
                let c: f64 = v
                    .extract()
                    .map_err(|_| PyTypeError::new_err("min_cpu_percent must be a number"))?;
                if c.is_nan() || c < 0.0 {
                    return Err(invalid(format!("min_cpu_percent must be >= 0, not {c}")));
                }
                f.min_cpu_percent = Some(c);
            }
            "min_rss" => {
                f.min_rss_bytes = Some(if v.is_instance_of::<PyString>() {
                    tether::size::parse_size(&v.extract::<String>()?).py_err()?
                } else {
                    int(&v, "min_rss (bytes, or a size such as '100M')")?
                })
            }
            "min_age" => f.min_age = Some(convert::duration(&v, "min_age")?),
            other => {
                return Err(PyTypeError::new_err(format!(
                    "{func}() got an unexpected keyword argument '{other}' (filters: {FILTERS})"
                )))
            }
        }
    }
    if names > 1 {
        return Err(invalid(
            "name, name_contains and name_regex exclude each other: give one",
        ));
    }
    Ok(f)
}

/// Read the processes; the GIL is released while /proc is read.
fn read(
    py: Python<'_>,
    attrs: Option<&Bound<'_, PyAny>>,
    ad_value: Option<Py<PyAny>>,
    cpu_sample: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
    func: &str,
) -> PyResult<Py<PyList>> {
    let spec = Arc::new(Spec::new(py, attrs, ad_value)?);
    let mut q = Query::new(spec.fields(), filter(kwargs, func)?);
    q.cpu_sample = convert::opt_duration(cpu_sample, "cpu_sample")?;
    let list = py.detach(|| tether::inspect::snapshot(&q)).py_err()?;
    let out = PyList::empty(py);
    for info in list {
        out.append(Py::new(py, PyProcessInfo::new(info, spec.clone()))?)?;
    }
    Ok(out.unbind())
}

/// Every process that passes the filters, sorted by PID, as a list of `ProcessInfo`.
#[pyfunction]
#[pyo3(signature = (attrs=None, ad_value=None, *, cpu_sample=None, **filters))]
pub fn snapshot(
    py: Python<'_>,
    attrs: Option<&Bound<'_, PyAny>>,
    ad_value: Option<Py<PyAny>>,
    cpu_sample: Option<&Bound<'_, PyAny>>,
    filters: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyList>> {
    read(py, attrs, ad_value, cpu_sample, filters, "snapshot")
}

/// psutil's `process_iter`: an iterator over `snapshot(...)`. The snapshot is taken when the
/// function is called (one pass over /proc), not while iterating.
#[pyfunction]
#[pyo3(signature = (attrs=None, ad_value=None, *, cpu_sample=None, **filters))]
pub fn process_iter<'py>(
    py: Python<'py>,
    attrs: Option<&Bound<'py, PyAny>>,
    ad_value: Option<Py<PyAny>>,
    cpu_sample: Option<&Bound<'py, PyAny>>,
    filters: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyIterator>> {
    read(py, attrs, ad_value, cpu_sample, filters, "process_iter")?
        .into_bound(py)
        .try_iter()
}

/// One process by PID: `NoSuchProcess` when there is none.
#[pyfunction]
#[pyo3(signature = (pid, attrs=None, ad_value=None))]
pub fn get(
    py: Python<'_>,
    pid: &Bound<'_, PyAny>,
    attrs: Option<&Bound<'_, PyAny>>,
    ad_value: Option<Py<PyAny>>,
) -> PyResult<PyProcessInfo> {
    let pid = convert::pid(pid)?;
    let spec = Arc::new(Spec::new(py, attrs, ad_value)?);
    let fields = spec.fields();
    let info = py
        .detach(|| tether::inspect::get(pid, fields))
        .map_err(|e| with_pid(py, &e, pid))?;
    Ok(PyProcessInfo::new(info, spec))
}
