//! Listening sockets: the probe that refuses a port another process holds, one `SO_REUSEPORT` socket per worker.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::error::ServerError;

/// Bind the configured address.
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    ensure_port_free(addr)?;
    TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })
}

/// Listen backlog of the sockets opened by [`bind_workers`] (the kernel caps it at `net.core.somaxconn`).
pub const LISTEN_BACKLOG: i32 = 4096;

/// Open `n` listening sockets on the same address, one per single-threaded worker, like nginx's workers: on Linux
/// with `SO_REUSEPORT`, so the kernel spreads new connections over the workers and each worker accepts and serves its
/// own connections without cross-thread wake-ups (but for the few the accept loop moves to even out the counts). Port 0
/// binds a free port once and the other sockets join it.
/// Elsewhere (or with `n` = 1) a single socket is returned.
///
/// # Errors
/// When a socket cannot be created, bound or put in listening state.
pub fn bind_workers(addr: SocketAddr, n: usize) -> Result<Vec<std::net::TcpListener>, ServerError> {
    let err = |source: io::Error| ServerError::Bind { addr, source };
    ensure_port_free(addr)?;
    let n = if cfg!(target_os = "linux") { n.max(1) } else { 1 };
    let mut out: Vec<std::net::TcpListener> = Vec::with_capacity(n);
    for _ in 0..n {
        let at = out.first().map_or(Ok(addr), std::net::TcpListener::local_addr).map_err(err)?;
        out.push(reuseport_listener(at, n > 1).map_err(err)?);
    }
    Ok(out)
}

/// Refuse a port another process listens on. The workers' sockets set `SO_REUSEPORT`, which would let them join
/// another server's sockets on the same port (same user): the kernel would then split the connections between the two
/// servers. A probe socket bound without `SO_REUSEPORT` (with `SO_REUSEADDR`, so connections of an earlier run still
/// in TIME_WAIT do not count) fails exactly when something listens there; it is closed before the workers bind.
/// Port 0 (any free port) needs no probe.
///
/// # Errors
/// [`ServerError::PortInUse`] when the port is taken, [`ServerError::Bind`] when the probe cannot be made.
pub fn ensure_port_free(addr: SocketAddr) -> Result<(), ServerError> {
    if addr.port() == 0 {
        return Ok(());
    }
    match probe_bind(addr) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(ServerError::PortInUse { addr }),
        Err(source) => Err(ServerError::Bind { addr, source }),
    }
}

#[cfg(target_os = "linux")]
fn probe_bind(addr: SocketAddr) -> io::Result<()> {
    use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn probe_bind(addr: SocketAddr) -> io::Result<()> {
    std::net::TcpListener::bind(addr).map(drop)
}

#[cfg(target_os = "linux")]
fn reuseport_listener(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    if reuse_port {
        sockopt::set_socket_reuseport(&fd, true)?;
    }
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, LISTEN_BACKLOG)?;
    Ok(std::net::TcpListener::from(fd))
}

#[cfg(not(target_os = "linux"))]
fn reuseport_listener(addr: SocketAddr, _reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}
