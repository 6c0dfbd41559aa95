//! Caps on open connections, in total and per peer address, so that one host holding
//! connections open cannot starve everyone else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

pub struct ConnectionCaps {
    total: usize,
    per_peer: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerPeer,
}

/// An admitted connection; dropping it frees its place.
pub struct Admitted {
    caps: Arc<ConnectionCaps>,
    peer: IpAddr,
}

impl ConnectionCaps {
    /// `per_peer` 0 means peers have no cap of their own.
    pub fn new(total: usize, per_peer: usize) -> Self {
        ConnectionCaps {
            total,
            per_peer,
            open: Mutex::default(),
        }
    }

    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admitted, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.total {
            return Err(Refusal::Total);
        }
        let from_peer = open.by_peer.get(&peer).copied().unwrap_or(0);
        if self.per_peer > 0 && from_peer >= self.per_peer {
            return Err(Refusal::PerPeer);
        }
        open.total += 1;
        open.by_peer.insert(peer, from_peer + 1);
        Ok(Admitted {
            caps: self.clone(),
            peer,
        })
    }

    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        (open.total, open.by_peer.len())
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self
            .caps
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total -= 1;
        if let Some(count) = open.by_peer.get_mut(&self.peer) {
            *count -= 1;
            if *count == 0 {
                open.by_peer.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn caps_per_peer_and_in_total_and_frees_on_drop() {
        let caps = Arc::new(ConnectionCaps::new(5, 2));
        let a1 = caps.admit(ip(1)).unwrap();
        let _a2 = caps.admit(ip(1)).unwrap();
        assert_eq!(caps.admit(ip(1)).err(), Some(Refusal::PerPeer));
        let _b = [caps.admit(ip(2)).unwrap(), caps.admit(ip(2)).unwrap()];
        let _c = caps.admit(ip(3)).unwrap();
        assert_eq!(caps.admit(ip(4)).err(), Some(Refusal::Total));
        drop(a1);
        let _a3 = caps.admit(ip(1)).expect("a freed place is given again");
        assert_eq!(caps.open(), (5, 3));
    }

    #[test]
    fn no_peer_cap_when_zero_and_nothing_left_behind() {
        let caps = Arc::new(ConnectionCaps::new(3, 0));
        let all: Vec<_> = (0..3).map(|_| caps.admit(ip(1)).unwrap()).collect();
        assert_eq!(caps.admit(ip(1)).err(), Some(Refusal::Total));
        drop(all);
        assert_eq!(caps.open(), (0, 0));
    }
}
