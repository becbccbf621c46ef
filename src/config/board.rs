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
    /// Ring frequency for FXS ports in Hz (default by country: 20 in North America,
    /// 25 elsewhere).
    pub ring_hz: Option<u32>,
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
    /// The line-interface chip: `sim` (default), `ag1171` (FXS ringing SLIC, also
    /// KS0835F) or `cpc5622` (FXO DAA, LITELINK).
    #[serde(default = "default_chip")]
    pub chip: Spanned<String>,
    /// GPIO lines by role (`rm`, `fr`, `shk` for an Ag1171; `ring`, `oh` for a
    /// CPC5622). A line is a kernel line name (`"GPIO17"`) or `"gpiochip0:17"`.
    #[serde(default)]
    pub gpio: std::collections::BTreeMap<String, Spanned<String>>,
    /// The ALSA device carrying this port's audio.
    pub audio: Option<AudioProfile>,
}

impl PortProfile {
    /// Its id and kind, as the runtime reads them.
    pub fn id_kind(&self) -> (&str, PortKind) {
        (self.id.get_ref(), *self.kind.get_ref())
    }
}

fn default_chip() -> Spanned<String> {
    Spanned::new(0..0, "sim".into())
}

/// Where a port's audio is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioProfile {
    /// ALSA PCM name (`"hw:CARD=wm8960soundc,DEV=0"`, `"plughw:Android"`).
    pub device: String,
    /// Channel of a multi-channel device (a stereo codec carries two ports).
    #[serde(default)]
    pub channel: u8,
    /// Channels the device is opened with.
    #[serde(default = "one")]
    pub channels: u8,
}

fn one() -> u8 {
    1
}

/// GPIO roles each line chip needs: (role, direction).
pub fn chip_gpio_roles(chip: &str) -> Option<&'static [(&'static str, &'static str)]> {
    match chip {
        "sim" => Some(&[]),
        // RM high = ring mode (72 V battery); F/R toggled at the ring frequency while RM
        // is high; SHK high = off-hook.
        "ag1171" => Some(&[("rm", "output"), ("fr", "output"), ("shk", "input")]),
        // RING low while ringing voltage is present; OH high = off-hook.
        "cpc5622" => Some(&[("ring", "input"), ("oh", "output")]),
        _ => None,
    }
}

/// Whether a GPIO line spec is well formed: a line name, or `gpiochipN:OFFSET`.
pub fn valid_gpio_line(spec: &str) -> bool {
    match spec.split_once(':') {
        Some((chip, off)) => {
            chip.starts_with("gpiochip")
                && chip["gpiochip".len()..].parse::<u32>().is_ok()
                && off.parse::<u32>().is_ok()
        }
        None => !spec.is_empty() && spec.len() <= 32 && !spec.contains(char::is_whitespace),
    }
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
    /// AT dialect: `auto` (detected from `AT+CGMI`/`AT+CGMM`), `generic`, `quectel`,
    /// `simcom`.
    #[serde(default = "default_dialect")]
    pub dialect: String,
    /// The SIM's PIN (4-8 digits), sent once when the SIM asks for it; a rejected PIN
    /// is never sent again.
    pub pin: Option<String>,
    /// Simulated modem only (`serial = "sim"`): its SIM is locked with this PIN
    /// (three attempts, then PUK), to try PIN entry on the page.
    pub simulated_sim_pin: Option<String>,
    /// Quectel: route call audio to the USB audio class device during init
    /// (`AT+QPCMV=1,2`). Off by default: the routing is usually provisioned once.
    #[serde(default)]
    pub usb_audio_route: bool,
    /// GPIO line of the modem's power key (pulsed ≥ 500 ms to power on or off).
    pub power_key: Option<Spanned<String>>,
    /// GPIO line of the modem's reset input.
    pub reset: Option<Spanned<String>>,
    /// Call audio: an ALSA device (USB audio class: Quectel) ...
    pub audio: Option<AudioProfile>,
    /// ... or a serial PCM port (SIMCom `AT+CPCMREG`: 8 kHz S16LE, 320 bytes per 20 ms).
    pub pcm_serial: Option<String>,
    // -- call flow and Quectel extras (issue 4, second part) --
    /// Where responder key presses come from: `audio` (the exchange's DTMF detector
    /// on the call audio), `modem` (the modem's own reports: Quectel `+QTONEDET`,
    /// SIMCom `+RXDTMF`) or `both` (default; the same key reported by both within
    /// 200 ms counts once). A generic modem reports nothing, so there `both` is
    /// `audio`.
    #[serde(default = "default_dtmf_source")]
    pub dtmf_source: String,
    /// How long a hunt waits for a modem that is re-initialising after a reset
    /// before it gives up on the next responder (seconds, 0-600; default 45). The
    /// caller hears hold music meanwhile.
    #[serde(default = "default_ready_wait")]
    pub ready_wait_seconds: u64,
    /// Quectel: switch VoLTE on during init (`AT+QCFG="ims",1`). The current setting
    /// is read either way (`ims` in the status).
    #[serde(default)]
    pub volte: bool,
    /// Quectel: the port that carries URCs (`AT+QURCCFG="urcport",…`): `usbat`,
    /// `usbmodem` or `uart1`; set it to the port the service reads.
    pub urc_port: Option<String>,
}

fn default_dtmf_source() -> String {
    "both".into()
}
fn default_ready_wait() -> u64 {
    45
}

fn default_modem_id() -> String {
    "modem".into()
}
fn default_baud() -> u32 {
    115_200
}
fn default_dialect() -> String {
    "auto".into()
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
            let chip = port.chip.get_ref();
            match chip_gpio_roles(chip) {
                None => p.at(
                    Some(port.chip.span()),
                    format!("port[{i}].chip"),
                    format!("unknown line chip `{chip}`: use \"sim\", \"ag1171\" (FXS) or \"cpc5622\" (FXO)"),
                ),
                Some(roles) => {
                    let wants = match chip.as_str() {
                        "ag1171" => Some(PortKind::Fxs),
                        "cpc5622" => Some(PortKind::Fxo),
                        _ => None,
                    };
                    if wants.is_some_and(|k| k != *port.kind.get_ref()) {
                        p.at(
                            Some(port.chip.span()),
                            format!("port[{i}].chip"),
                            format!("`{chip}` is an {} chip but the port is {}", wants.map_or("", |k| k.as_str()), port.kind.get_ref().as_str()),
                        );
                    }
                    for (role, dir) in roles {
                        if !port.gpio.contains_key(*role) {
                            p.at(
                                Some(port.chip.span()),
                                format!("port[{i}].gpio.{role}"),
                                format!("a {chip} needs its `{role}` line ({dir}): add gpio.{role} = \"GPIO17\" (a line name or \"gpiochip0:17\")"),
                            );
                        }
                    }
                    for (role, line) in &port.gpio {
                        if !roles.iter().any(|(r, _)| r == role) {
                            p.at(
                                Some(line.span()),
                                format!("port[{i}].gpio.{role}"),
                                format!("a {chip} has no `{role}` line: use {}", roles.iter().map(|(r, _)| *r).collect::<Vec<_>>().join(", ")),
                            );
                        }
                        if !valid_gpio_line(line.get_ref()) {
                            p.at(
                                Some(line.span()),
                                format!("port[{i}].gpio.{role}"),
                                format!("`{}` is not a GPIO line: write a line name (\"GPIO17\") or \"gpiochip0:17\"", line.get_ref()),
                            );
                        }
                    }
                    if chip != "sim" && port.audio.is_none() {
                        p.at(
                            Some(port.chip.span()),
                            format!("port[{i}].audio"),
                            "a hardware port needs its audio device: add audio = { device = \"hw:CARD=...\" }",
                        );
                    }
                }
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
            for (name, line) in [("power_key", &m.power_key), ("reset", &m.reset)] {
                if let Some(l) = line.as_ref().filter(|l| !valid_gpio_line(l.get_ref())) {
                    p.at(
                        Some(l.span()),
                        format!("modem.{name}"),
                        format!("`{}` is not a GPIO line: write a line name (\"GPIO17\") or \"gpiochip0:17\"", l.get_ref()),
                    );
                }
            }
            if m.audio.is_some() && m.pcm_serial.is_some() {
                p.at(
                    None,
                    "modem.audio",
                    "give either audio (an ALSA device) or pcm_serial (a serial PCM port), not both",
                );
            }
            if !matches!(
                m.dialect.as_str(),
                "auto" | "generic" | "quectel" | "simcom"
            ) {
                p.at(
                    None,
                    "modem.dialect",
                    format!(
                        "unknown dialect `{}`: use \"auto\", \"generic\", \"quectel\" or \"simcom\"",
                        m.dialect
                    ),
                );
            }
            if !matches!(m.dtmf_source.as_str(), "audio" | "modem" | "both") {
                p.at(
                    None,
                    "modem.dtmf_source",
                    format!(
                        "unknown DTMF source `{}`: use \"audio\", \"modem\" or \"both\"",
                        m.dtmf_source
                    ),
                );
            } else if m.dtmf_source == "modem" && m.dialect == "generic" {
                p.at(
                    None,
                    "modem.dtmf_source",
                    "a generic modem does not report DTMF: use dtmf_source = \"audio\" or \"both\", or set the quectel/simcom dialect",
                );
            }
            if m.ready_wait_seconds > 600 {
                p.at(
                    None,
                    "modem.ready_wait_seconds",
                    format!(
                        "{} s is too long for a caller on hold: use 0 to 600",
                        m.ready_wait_seconds
                    ),
                );
            }
            let quectel_only = m.dialect != "quectel" && m.dialect != "auto";
            if m.volte && quectel_only {
                p.at(
                    None,
                    "modem.volte",
                    "volte (AT+QCFG=\"ims\",1) is a Quectel setting: remove it or set dialect = \"quectel\"",
                );
            }
            if let Some(u) = &m.urc_port {
                if !matches!(u.as_str(), "usbat" | "usbmodem" | "uart1") {
                    p.at(
                        None,
                        "modem.urc_port",
                        format!("unknown URC port `{u}`: use \"usbat\", \"usbmodem\" or \"uart1\""),
                    );
                } else if quectel_only {
                    p.at(
                        None,
                        "modem.urc_port",
                        "urc_port (AT+QURCCFG=\"urcport\",…) is a Quectel setting: remove it or set dialect = \"quectel\"",
                    );
                }
            }
            if let Some(pin) = &m.pin {
                if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                    p.at(
                        None,
                        "modem.pin",
                        "a SIM PIN is 4 to 8 digits, written as a string: pin = \"1234\"",
                    );
                }
            }
            if let Some(pin) = &m.simulated_sim_pin {
                if m.serial != "sim" {
                    p.at(
                        None,
                        "modem.simulated_sim_pin",
                        "simulated_sim_pin locks the simulated modem's SIM: it needs serial = \"sim\" (a real SIM's PIN is `pin`)",
                    );
                } else if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit())
                {
                    p.at(
                        None,
                        "modem.simulated_sim_pin",
                        "a SIM PIN is 4 to 8 digits, written as a string: simulated_sim_pin = \"1234\"",
                    );
                }
            }
            if let Some(pcm) = &m.pcm_serial {
                if m.dialect != "simcom" && m.dialect != "auto" {
                    p.at(
                        None,
                        "modem.pcm_serial",
                        "pcm_serial is SIMCom serial audio (AT+CPCMREG): set dialect = \"simcom\" (or \"auto\"), or use audio = { device = ... } for a USB audio modem",
                    );
                }
                let sim = m.serial == "sim";
                if sim && pcm != "sim" {
                    p.at(
                        None,
                        "modem.pcm_serial",
                        "the simulated modem's PCM port is simulated too: write pcm_serial = \"sim\"",
                    );
                } else if !sim && !pcm.starts_with('/') {
                    p.at(
                        None,
                        "modem.pcm_serial",
                        format!("`{pcm}` is not a device path: write the PCM tty's udev symlink, pcm_serial = \"/dev/modem-pcm\""),
                    );
                }
            }
            if m.usb_audio_route && m.dialect != "quectel" && m.dialect != "auto" {
                p.at(
                    None,
                    "modem.usb_audio_route",
                    "usb_audio_route (AT+QPCMV=1,2) is a Quectel setting: remove it or set dialect = \"quectel\"",
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

    /// Ring frequency of FXS ports.
    pub fn ring_frequency(&self) -> u32 {
        self.ring_hz
            .unwrap_or(if matches!(self.country.as_str(), "US" | "CA") {
                20
            } else {
                25
            })
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
    fn shipped_hardware_profiles_are_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("board");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let src = std::fs::read_to_string(&p).unwrap();
                let b = BoardProfile::parse(&p.display().to_string(), &src)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(!b.description.is_empty());
                n += 1;
            }
        }
        assert!(n >= 3);
    }

    #[test]
    fn hardware_port_needs_its_lines() {
        let src = "name = \"x\"\n[[port]]\nid = \"fxs1\"\nkind = \"fxs\"\nchip = \"ag1171\"\ngpio = { rm = \"GPIO17\", fr = \"gpiochip0:x\" }\n";
        let e = BoardProfile::parse("b.toml", src).unwrap_err().to_string();
        assert!(
            e.contains("port[0].gpio.shk: a ag1171 needs its `shk` line"),
            "{e}"
        );
        assert!(
            e.contains("port[0].gpio.fr: `gpiochip0:x` is not a GPIO line"),
            "{e}"
        );
        assert!(e.contains("port[0].audio"), "{e}");
    }

    #[test]
    fn modem_call_flow_and_quectel_keys_are_checked() {
        let ok = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\ndialect = \"quectel\"\ndtmf_source = \"modem\"\nready_wait_seconds = 60\nvolte = true\nurc_port = \"usbat\"\n";
        let b = BoardProfile::parse("b.toml", ok).unwrap();
        let m = b.modem.as_ref().unwrap();
        assert_eq!(
            (m.dtmf_source.as_str(), m.ready_wait_seconds),
            ("modem", 60)
        );
        let cfg = crate::modem::ModemConfig::from_profile(m);
        assert!(cfg.options.quectel_volte);
        assert_eq!(cfg.options.quectel_urc_port, Some("usbat"));
        // defaults
        let b = BoardProfile::parse("b.toml", "name = \"x\"\n[modem]\nserial = \"sim\"\n").unwrap();
        let m = b.modem.as_ref().unwrap();
        assert_eq!((m.dtmf_source.as_str(), m.ready_wait_seconds), ("both", 45));
        assert!(!m.volte && m.urc_port.is_none());
        let bad = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\ndtmf_source = \"ear\"\nready_wait_seconds = 900\nurc_port = \"usb3\"\n";
        let e = BoardProfile::parse("b.toml", bad).unwrap_err().to_string();
        assert!(
            e.contains("modem.dtmf_source: unknown DTMF source `ear`"),
            "{e}"
        );
        assert!(
            e.contains("modem.ready_wait_seconds: 900 s is too long"),
            "{e}"
        );
        assert!(e.contains("modem.urc_port: unknown URC port `usb3`"), "{e}");
        let bad = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\ndialect = \"generic\"\ndtmf_source = \"modem\"\nvolte = true\nurc_port = \"uart1\"\n";
        let e = BoardProfile::parse("b.toml", bad).unwrap_err().to_string();
        assert!(
            e.contains("modem.dtmf_source: a generic modem does not report DTMF"),
            "{e}"
        );
        assert!(e.contains("modem.volte: volte"), "{e}");
        assert!(e.contains("modem.urc_port: urc_port"), "{e}");
    }

    #[test]
    fn modem_dialect_pin_and_audio_route_are_checked() {
        let ok = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\npin = \"0815\"\nusb_audio_route = true\n";
        let b = BoardProfile::parse("b.toml", ok).unwrap();
        let m = b.modem.as_ref().unwrap();
        assert_eq!(m.dialect, "auto");
        let cfg = crate::modem::ModemConfig::from_profile(m);
        assert_eq!(cfg.dialect, crate::modem::DialectSetting::Auto);
        assert_eq!(cfg.pin.as_deref(), Some("0815"));
        assert!(cfg.options.quectel_usb_audio);
        let bad = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\ndialect = \"huawei\"\npin = \"12\"\n";
        let e = BoardProfile::parse("b.toml", bad).unwrap_err().to_string();
        assert!(e.contains("modem.dialect: unknown dialect `huawei`"), "{e}");
        assert!(e.contains("modem.pin: a SIM PIN is 4 to 8 digits"), "{e}");
        let bad = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\ndialect = \"simcom\"\nusb_audio_route = true\n";
        let e = BoardProfile::parse("b.toml", bad).unwrap_err().to_string();
        assert!(e.contains("modem.usb_audio_route"), "{e}");
    }

    #[test]
    fn pcm_serial_needs_simcom_and_a_device_path() {
        let ok = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\ndialect = \"simcom\"\npcm_serial = \"/dev/modem-pcm\"\n";
        let b = BoardProfile::parse("b.toml", ok).unwrap();
        assert!(
            crate::modem::ModemConfig::from_profile(b.modem.as_ref().unwrap())
                .options
                .simcom_pcm
        );
        let bad = "name = \"x\"\n[modem]\nserial = \"/dev/modem-at\"\ndialect = \"quectel\"\npcm_serial = \"modem-pcm\"\n";
        let e = BoardProfile::parse("b.toml", bad).unwrap_err().to_string();
        assert!(e.contains("set dialect = \"simcom\""), "{e}");
        assert!(e.contains("`modem-pcm` is not a device path"), "{e}");
        let bad = "name = \"x\"\n[modem]\nserial = \"sim\"\ndialect = \"simcom\"\npcm_serial = \"/dev/modem-pcm\"\n";
        let e = BoardProfile::parse("b.toml", bad).unwrap_err().to_string();
        assert!(e.contains("pcm_serial = \"sim\""), "{e}");
    }

    #[test]
    fn duplicate_port_is_located() {
        let src = "name = \"x\"\n[[port]]\nid = \"a\"\nkind = \"fxo\"\n[[port]]\nid = \"a\"\nkind = \"fxs\"\n";
        let e = BoardProfile::parse("b.toml", src).unwrap_err();
        assert_eq!(e.problems[0].line, Some(6));
        assert!(e.to_string().contains("used twice"));
    }
}
