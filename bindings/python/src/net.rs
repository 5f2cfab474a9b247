//! `ports()` and `who(port)`: listening sockets and every process holding them.

use pyo3::prelude::*;
use pyo3::types::PyString;
use tether::net::{Owner, PortHolders, SocketEntry, SocketList, SocketQuery, SocketSource};

use crate::convert;
use crate::error::IntoPyResult;
use crate::identity::PyIdentity;

/// A process holding a socket.
#[pyclass(name = "Owner", module = "tether", frozen, get_all)]
pub struct PyOwner {
    /// Its PID.
    pid: u32,
    /// Its command name (comm).
    name: String,
    /// Its identity, or None when it exited before it could be identified.
    identity: Option<Py<PyIdentity>>,
    /// Its file descriptors found pointing at the socket.
    fds: Vec<i32>,
}

#[pymethods]
impl PyOwner {
    fn __repr__(&self) -> String {
        format!(
            "tether.Owner(pid={}, name={:?}, fds={:?})",
            self.pid, self.name, self.fds
        )
    }
}

fn owner(py: Python<'_>, o: Owner) -> PyResult<PyOwner> {
    Ok(PyOwner {
        pid: o.pid,
        name: o.name,
        identity: o
            .identity
            .map(|id| Py::new(py, PyIdentity::new(id)))
            .transpose()?,
        fds: o.fds,
    })
}

/// One socket.
#[pyclass(name = "Socket", module = "tether", frozen, get_all)]
pub struct PySocket {
    /// `"tcp"`, `"udp"` or `"unix"`.
    proto: &'static str,
    /// `"ipv4"`, `"ipv6"` or `"unix"`.
    family: String,
    /// `"LISTEN"`, `"ESTAB"`, `"UNCONN"`, … as `ss` prints them.
    state: String,
    /// Local address (unix: the bound path, `@name` for abstract ones), or None.
    local_addr: Option<String>,
    local_port: Option<u16>,
    remote_addr: Option<String>,
    remote_port: Option<u16>,
    /// Unix sockets: `"stream"`, `"dgram"` or `"seqpacket"`.
    socket_type: Option<String>,
    /// Unix sockets: the peer's inode, when connected.
    peer_inode: Option<u64>,
    inode: u64,
    /// The creator's uid (None for unix sockets read from /proc/net).
    uid: Option<u32>,
    /// Every process holding it.
    owners: Vec<Py<PyOwner>>,
}

#[pymethods]
impl PySocket {
    fn __repr__(&self) -> String {
        let addr = match (&self.local_addr, self.local_port) {
            (Some(a), Some(p)) if a.contains(':') => format!("[{a}]:{p}"),
            (Some(a), Some(p)) => format!("{a}:{p}"),
            (Some(a), None) => a.clone(),
            (None, Some(p)) => format!("*:{p}"),
            (None, None) => "-".into(),
        };
        format!(
            "tether.Socket({} {} {addr}, {} owner{})",
            self.proto,
            self.state,
            self.owners.len(),
            if self.owners.len() == 1 { "" } else { "s" }
        )
    }
}

fn socket(py: Python<'_>, s: SocketEntry) -> PyResult<PySocket> {
    Ok(PySocket {
        proto: s.proto.as_str(),
        family: s.family,
        state: s.state,
        local_addr: s.local_addr,
        local_port: s.local_port,
        remote_addr: s.remote_addr,
        remote_port: s.remote_port,
        socket_type: s.socket_type,
        peer_inode: s.peer_inode,
        inode: s.inode,
        uid: s.uid,
        owners: s
            .owners
            .into_iter()
            .map(|o| Py::new(py, owner(py, o)?))
            .collect::<PyResult<_>>()?,
    })
}

fn source(s: SocketSource) -> &'static str {
    match s {
        SocketSource::SockDiag => "sock_diag",
        _ => "proc_net",
    }
}

/// What `who(port)` found.
#[pyclass(name = "PortHolders", module = "tether", frozen, get_all)]
pub struct PyPortHolders {
    /// The port.
    port: u16,
    /// The protocols looked at.
    protos: Vec<&'static str>,
    /// Where the socket table came from: `"sock_diag"` (netlink) or `"proc_net"`.
    source: &'static str,
    /// Why the fallback was used, or that other users' owners are hidden; else None.
    note: Option<String>,
    /// The listening (TCP) or bound (UDP) sockets on the port.
    sockets: Vec<Py<PySocket>>,
    /// Every process holding one of them, once each, by PID.
    owners: Vec<Py<PyOwner>>,
}

#[pymethods]
impl PyPortHolders {
    /// The PIDs of the owners.
    #[getter]
    fn pids(&self) -> Vec<u32> {
        self.owners.iter().map(|o| o.get().pid).collect()
    }

    fn __repr__(&self) -> String {
        let pids: Vec<String> = self
            .owners
            .iter()
            .map(|o| o.get().pid.to_string())
            .collect();
        format!(
            "tether.PortHolders(port={}, sockets={}, pids=[{}])",
            self.port,
            self.sockets.len(),
            pids.join(", ")
        )
    }
}

/// Listening sockets (every state with `all_states=True`) and their owners.
///
/// `proto`: `"tcp"`, `"udp"`, `"unix"` or a list of them (default: all three); `port`: only
/// this local port (an int or `"8080/tcp"`); `pids`: only sockets held by these processes;
/// `owners=False` skips the owner scan (no /proc walk).
#[pyfunction]
#[pyo3(signature = (proto=None, *, port=None, pids=None, all_states=false, owners=true))]
pub fn ports(
    py: Python<'_>,
    proto: Option<&Bound<'_, PyAny>>,
    port: Option<&Bound<'_, PyAny>>,
    pids: Option<&Bound<'_, PyAny>>,
    all_states: bool,
    owners: bool,
) -> PyResult<Vec<Py<PySocket>>> {
    let mut q = SocketQuery::default();
    if let Some(p) = proto.filter(|p| !p.is_none()) {
        if let Ok(s) = p.cast::<PyString>() {
            q.protos.push(convert::proto(&s.to_cow()?)?);
        } else {
            for item in p.try_iter()? {
                let s: String = item?.extract()?;
                q.protos.push(convert::proto(&s)?);
            }
        }
    }
    if let Some(p) = port.filter(|p| !p.is_none()) {
        let (n, proto) = convert::port(p)?;
        q.port = Some(n);
        if let Some(proto) = proto {
            if q.protos.is_empty() {
                q.protos.push(proto);
            }
        }
    }
    if let Some(p) = pids.filter(|p| !p.is_none()) {
        if p.is_instance_of::<pyo3::types::PyInt>() {
            q.pids.push(convert::pid(p)?);
        } else {
            for item in p.try_iter()? {
                q.pids.push(convert::pid(&item?)?);
            }
        }
    }
    q.all_states = all_states;
    q.no_owners = !owners;
    let SocketList { sockets, .. } = py.detach(|| tether::net::list(&q)).py_err()?;
    sockets
        .into_iter()
        .map(|s| Py::new(py, socket(py, s)?))
        .collect()
}

/// Who holds `port` (an int, or `"8080/tcp"` / `"53/udp"`): every holder of every listening
/// TCP or bound UDP socket on it (both protocols unless the port names one). Nobody holding it
/// is an empty `owners` list, not an error.
#[pyfunction]
pub fn who(py: Python<'_>, port: &Bound<'_, PyAny>) -> PyResult<PyPortHolders> {
    let (port, proto) = convert::port(port)?;
    let PortHolders {
        port,
        protos,
        source: src,
        note,
        sockets,
        owners,
        ..
    } = py.detach(|| tether::net::who(port, proto)).py_err()?;
    Ok(PyPortHolders {
        port,
        protos: protos.iter().map(|p| p.as_str()).collect(),
        source: source(src),
        note,
        sockets: sockets
            .into_iter()
            .map(|s| Py::new(py, socket(py, s)?))
            .collect::<PyResult<_>>()?,
        owners: owners
            .into_iter()
            .map(|o| Py::new(py, owner(py, o)?))
            .collect::<PyResult<_>>()?,
    })
}
