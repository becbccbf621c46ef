//! Board profiles: which ports and which modem a piece of hardware has.
//!
//! One TOML file per supported hardware combination lives in `board/`; `board/sim.toml`
//! (the simulated board) is embedded in the binary and is the default.

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Problems, from_toml};

/// The simulated board's profile, embedded so the service starts with no files at all.
pub const SIM_BOARD_TOML: &str = include_str!("../../board/sim.toml");

/// A board profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardProfile {
    /// Short name, e.g. `sim` or `rpi4-ag1171-ec25`.
    pub name: String,
    /// One line for humans.
    #[serde(default)]
    pub description: String,
    /// ISO country code of the tone plan and ring cadence (US, UK, DE, ...).
    #[serde(default = "default_country")]
    pub country: String,
    /// Analog ports.
    #[serde(default, rename = "port")]
    pub ports: Vec<PortProfile>,
    /// The GSM/LTE modem, if fitted.
    pub modem: Option<ModemProfile>,
}

fn default_country() -> String {
    "US".into()
}

/// Kinds of analog port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    /// The box is plugged into a line from the PSTN or a PBX.
    Fxo,
    /// A phone is plugged into the box.
    Fxs,
    /// The modem's voice channel.
    Modem,
}

impl PortKind {
    /// Lower-case name as used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PortKind::Fxo => "fxo",
            PortKind::Fxs => "fxs",
            PortKind::Modem => "modem",
        }
    }
}

/// One analog port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortProfile {
    /// Identifier used by routing numbers (`port = "fxo1"`).
    pub id: Spanned<String>,
    /// FXO or FXS.
    pub kind: Spanned<PortKind>,
}

/// The modem.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemProfile {
    /// Identifier of the modem's voice port.
    #[serde(default = "default_modem_id")]
    pub id: String,
    /// Serial device of the AT port, or `sim` for the simulated modem.
    pub serial: String,
    /// Baud rate (ignored by USB ACM ports, required by UARTs).
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// AT dialect: `generic`, `quectel`, `simcom` (only `generic` is implemented yet).
    #[serde(default = "default_dialect")]
    pub dialect: String,
}

fn default_modem_id() -> String {
    "modem".into()
}
fn default_baud() -> u32 {
    115_200
}
fn default_dialect() -> String {
    "generic".into()
}

impl BoardProfile {
    /// Parses and validates a board profile.
    pub fn parse(file: &str, src: &str) -> Result<Self, ConfigError> {
        let board: BoardProfile = toml::from_str(src).map_err(|e| from_toml(file, src, &e))?;
        let mut p = Problems::new(src);
        let mut seen = std::collections::HashSet::new();
        for (i, port) in board.ports.iter().enumerate() {
            let id = port.id.get_ref();
            if !valid_id(id) {
                p.at(
                    Some(port.id.span()),
                    format!("port[{i}].id"),
                    format!("`{id}` is not a valid port id: use letters, digits, `-` or `_`"),
                );
            }
            if *port.kind.get_ref() == PortKind::Modem {
                p.at(
                    Some(port.kind.span()),
                    format!("port[{i}].kind"),
                    "the modem is declared in the [modem] section, not as a port: use kind = \"fxo\" or \"fxs\"",
                );
            }
            if !seen.insert(id.clone()) {
                p.at(
                    Some(port.id.span()),
                    format!("port[{i}].id"),
                    format!("port id `{id}` is used twice: give every port its own id"),
                );
            }
        }
        if let Some(m) = &board.modem {
            if seen.contains(&m.id) {
                p.at(
                    None,
                    "modem.id",
                    format!("modem id `{}` is also a port id: rename one of them", m.id),
                );
            }
            if m.dialect != "generic" {
                p.at(
                    None,
                    "modem.dialect",
                    format!(
                        "dialect `{}` is not implemented yet: use \"generic\" (Quectel and SIMCom dialects are planned)",
                        m.dialect
                    ),
                );
            }
        }
        p.into_result(file)?;
        Ok(board)
    }

    /// The built-in simulated board.
    pub fn sim() -> Self {
        // The embedded file is checked by a unit test; failing here is a build defect.
        Self::parse("<built-in board/sim.toml>", SIM_BOARD_TOML)
            .expect("embedded board/sim.toml is valid")
    }

    /// Kind of the port with this id (the modem's id gives [`PortKind::Modem`]).
    pub fn port_kind(&self, id: &str) -> Option<PortKind> {
        if self.modem.as_ref().is_some_and(|m| m.id == id) {
            return Some(PortKind::Modem);
        }
        self.ports
            .iter()
            .find(|p| p.id.get_ref() == id)
            .map(|p| *p.kind.get_ref())
    }

    /// All port ids, analog ports first, then the modem.
    pub fn port_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.ports.iter().map(|p| p.id.get_ref().clone()).collect();
        if let Some(m) = &self.modem {
            ids.push(m.id.clone());
        }
        ids
    }

    /// Whether this is the simulated board (its modem is simulated too).
    pub fn is_sim(&self) -> bool {
        self.modem.as_ref().is_some_and(|m| m.serial == "sim")
    }
}

/// Ids are short machine names: letters, digits, `-`, `_`.
pub(crate) fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sim_board_is_valid() {
        let b = BoardProfile::sim();
        assert_eq!(b.name, "sim");
        assert_eq!(b.port_kind("fxo1"), Some(PortKind::Fxo));
        assert_eq!(b.port_kind("modem"), Some(PortKind::Modem));
        assert!(b.is_sim());
    }

    #[test]
    fn duplicate_port_is_located() {
        let src = "name = \"x\"\n[[port]]\nid = \"a\"\nkind = \"fxo\"\n[[port]]\nid = \"a\"\nkind = \"fxs\"\n";
        let e = BoardProfile::parse("b.toml", src).unwrap_err();
        assert_eq!(e.problems[0].line, Some(6));
        assert!(e.to_string().contains("used twice"));
    }
}
