//! Status snapshots of the exchange for `/api/status`.

use serde::Serialize;

use super::Exchange;
use crate::call::CallId;
use crate::modem::ModemStatus;

/// Status of a port for `/api/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortStatus {
    /// Port id.
    pub id: String,
    /// `fxo`, `fxs`, `modem`.
    pub kind: &'static str,
    /// `idle`, `ringing`, `off-hook`, `in-call`, ...
    pub state: String,
    /// Call using the port.
    pub call: Option<CallId>,
}

/// Status of a call for `/api/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CallStatus {
    /// Call id.
    pub id: CallId,
    /// Routing number name.
    pub routing_number: String,
    /// Routing number id.
    pub routing_id: String,
    /// Phase (`greeting`, `menu`, `waiting for a line`, `bridged`, ...).
    pub phase: &'static str,
    /// Position in the queue, while waiting for a line.
    pub queue_position: Option<u32>,
    /// Configuration generation the call runs on.
    pub generation: u64,
}

/// A snapshot of the exchange.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Status {
    /// Ports.
    pub ports: Vec<PortStatus>,
    /// Modem, if fitted.
    pub modem: Option<ModemStatus>,
    /// Active calls.
    pub calls: Vec<CallStatus>,
    /// Calls waiting for a free line.
    pub queued: usize,
    /// Configuration generation for new calls.
    pub generation: u64,
    /// The backup forwarding of the SIM, when configured.
    pub backup: Option<super::BackupStatus>,
}

impl Exchange {
    /// A status snapshot.
    pub fn status(&self) -> Status {
        Status {
            ports: self
                .ports
                .iter()
                .map(|p| PortStatus {
                    id: p.id.clone(),
                    kind: p.kind.as_str(),
                    state: match (&p.line, p.owner) {
                        (Some(_), None) if p.out_of_service_until.is_some() => {
                            "out-of-service".into()
                        }
                        (Some(_), Some(_)) if p.dialout.is_some() => "dialling".into(),
                        (Some(l), _) => l.state_name().to_string(),
                        (None, _) if p.ringing => "ringing".into(),
                        (None, Some(_)) => "in-call".into(),
                        (None, None) if p.handset_up => "off-hook".into(),
                        (None, None) => "idle".into(),
                    },
                    call: p.owner.map(|(c, _)| c),
                })
                .collect(),
            modem: self.modem.as_ref().map(|m| m.status().clone()),
            calls: self
                .slots
                .iter()
                .map(|s| CallStatus {
                    id: s.call.id(),
                    routing_number: s.call.routing_name().to_string(),
                    routing_id: s.call.routing_id().to_string(),
                    phase: s.call.phase(),
                    queue_position: self.queue_position(s.call.id()),
                    generation: s.generation.number,
                })
                .collect(),
            queued: self
                .slots
                .iter()
                .filter(|s| s.wait.as_ref().is_some_and(|w| w.queued()))
                .count(),
            generation: self.generation.number,
            backup: self.backup.status().cloned(),
        }
    }
}
