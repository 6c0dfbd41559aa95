//! `TCP_NODELAY` on PostgreSQL connections. sqlx 0.9.0 opens its TCP sockets without it
//! (sqlx issue #4335, fixed upstream after that release; libpq always sets it). Without it a
//! `COPY`'s closing message waits for the server's delayed acknowledgement of the data before
//! it, about 40 ms per `COPY`, which an import pays once per file or chunk. sqlx gives no
//! access to its socket, so a new connection asks the server for the two addresses it sees,
//! finds the process's socket with those addresses, and sets the option there.

use std::net::{IpAddr, SocketAddr};

use sqlx::postgres::PgConnection;

/// Sets `TCP_NODELAY` on `connection`'s socket. A connection over a Unix socket has none to
/// set; one whose addresses the server sees translated (a proxy, NAT) is not found and left
/// as it is, which costs speed only.
pub async fn set(connection: &mut PgConnection) {
    let Some((local, peer)) = addresses(connection).await else {
        return;
    };
    let set = with_socket_between(local, peer, |socket| socket.set_tcp_nodelay(true).is_ok());
    if set != Some(true) {
        tracing::debug!(%local, %peer, "TCP_NODELAY is not set: no socket of this process has the connection's addresses");
    }
}

/// The connection's own address and the server's, as the server sees them; none over a Unix
/// socket.
async fn addresses(connection: &mut PgConnection) -> Option<(SocketAddr, SocketAddr)> {
    let (client, client_port, server, server_port): (
        Option<String>,
        Option<i32>,
        Option<String>,
        Option<i32>,
    ) = sqlx::query_as(
        "SELECT host(inet_client_addr()), inet_client_port(), \
         host(inet_server_addr()), inet_server_port()",
    )
    .fetch_one(connection)
    .await
    .ok()?;
    Some((
        socket_addr(&client?, client_port?)?,
        socket_addr(&server?, server_port?)?,
    ))
}

fn socket_addr(host: &str, port: i32) -> Option<SocketAddr> {
    let ip: IpAddr = host.parse().ok()?;
    Some(canonical(SocketAddr::new(ip, u16::try_from(port).ok()?)))
}

/// One form for an IPv4 address, bare or mapped into IPv6, so the server's view and the
/// socket's compare equal.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

/// Runs `f` on the process's TCP socket from `local` to `peer`, if there is one.
#[cfg(unix)]
fn with_socket_between<T>(
    local: SocketAddr,
    peer: SocketAddr,
    f: impl FnOnce(&socket2::SockRef) -> T,
) -> Option<T> {
    use std::os::fd::{BorrowedFd, RawFd};

    let entries = std::fs::read_dir("/proc/self/fd")
        .or_else(|_| std::fs::read_dir("/dev/fd"))
        .ok()?;
    let address = |address: socket2::SockAddr| address.as_socket().map(canonical);
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<RawFd>().ok())
        else {
            continue;
        };
        // SAFETY: the descriptor is only asked for its addresses and given a socket option,
        // never read, written or closed. Should another thread close it meanwhile, the calls
        // fail, or reach whatever then holds the number, and only a socket with both of the
        // connection's addresses is changed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&borrowed);
        let matches = socket.local_addr().ok().and_then(address) == Some(local)
            && socket.peer_addr().ok().and_then(address) == Some(peer);
        if matches {
            return Some(f(&socket));
        }
    }
    None
}

#[cfg(not(unix))]
fn with_socket_between<T>(
    _local: SocketAddr,
    _peer: SocketAddr,
    _f: impl FnOnce(&socket2::SockRef) -> T,
) -> Option<T> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_with_both_addresses_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let (local, peer) = (client.local_addr().unwrap(), client.peer_addr().unwrap());

        let set = with_socket_between(local, peer, |s| s.set_tcp_nodelay(true).is_ok());
        assert_eq!(set, Some(true));
        assert!(client.nodelay().unwrap());
        assert!(
            !server_side.nodelay().unwrap(),
            "the other end is left alone"
        );

        let elsewhere = SocketAddr::new(peer.ip(), peer.port().wrapping_add(1));
        assert_eq!(with_socket_between(local, elsewhere, |_| ()), None);
    }

    /// Every connection of a PostgreSQL pool has the option, as libpq's would.
    #[tokio::test]
    async fn pooled_postgres_connections_have_it() {
        let Ok(url) = std::env::var("HARESIGN_TEST_DATABASE_URL") else {
            println!("skipped: HARESIGN_TEST_DATABASE_URL is not set");
            return;
        };
        let crate::db::Db::Postgres(pool) = crate::db::Db::connect(&url).await.unwrap() else {
            panic!("{url} is not a PostgreSQL URL");
        };
        let mut connection = pool.acquire().await.unwrap();
        let Some((local, peer)) = addresses(&mut connection).await else {
            println!("skipped: {url} is not reached over TCP");
            return;
        };
        let nodelay = with_socket_between(local, peer, |s| s.tcp_nodelay().unwrap());
        assert_eq!(nodelay, Some(true));
    }

    #[test]
    fn addresses_are_compared_in_one_form() {
        assert_eq!(
            socket_addr("::ffff:127.0.0.1", 5432),
            Some("127.0.0.1:5432".parse().unwrap())
        );
        assert_eq!(socket_addr("127.0.0.1", 70_000), None);
        assert_eq!(socket_addr("not an address", 5432), None);
    }
}
