//! How many of something one client address holds at once (requests in
//! flight, WebSocket connections), bounded; a slot is given back when it
//! is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

#[derive(Clone, Debug)]
pub struct PerIp {
    counts: Counts,
    max: usize,
}

/// One held place in an address's count.
pub struct Slot {
    ip: IpAddr,
    counts: Counts,
}

impl PerIp {
    pub fn new(max: usize) -> Self {
        Self {
            counts: Arc::default(),
            max,
        }
    }

    /// A slot for `ip`, unless it already holds the most it may.
    pub fn enter(&self, ip: IpAddr) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            ip,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Held for a few instructions, never across an await; a poisoned
        // map is still a valid map.
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_share_and_gets_it_back() {
        let per_ip = PerIp::new(2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = per_ip.enter(ip).unwrap();
        let _b = per_ip.enter(ip).unwrap();
        assert!(per_ip.enter(ip).is_none());
        assert!(
            per_ip.enter("10.0.0.2".parse().unwrap()).is_some(),
            "others have their own"
        );
        drop(a);
        assert!(per_ip.enter(ip).is_some());
    }
}
