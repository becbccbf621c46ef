//! Vendor dialects of the AT command set: which one a modem speaks (detected from
//! `AT+CGMI` / `AT+CGMM` / `ATI`, or fixed by configuration) and what it adds to
//! initialisation.
//!
//! Generic 3GPP 27.007 / 27.005 is the base; the dialects only add commands and
//! unsolicited result codes (parsed in [`crate::at::urc`]):
//!
//! | dialect | init extras | URCs |
//! |---|---|---|
//! | Quectel (EC2x, EG2x) | `AT+QURCCFG="urcport",…` (profile `urc_port`), `AT+QINDCFG="ccinfo",1`, `AT+QTONEDET=1`, `AT+QPCMV=1,2` (profile `usb_audio_route`), `AT+QCFG="ims",1` (profile `volte`), then `AT+QCFG="ims"` read into the status | `+QIND: "ccinfo",…`, `+QTONEDET: <ascii>` |
//! | SIMCom (SIM7600, A76xx) | `AT+DDET=1` (`AT+CPCMREG` is per call) | `VOICE CALL: BEGIN/END`, `+RXDTMF: <key>`, `+DTMF: <key>` |
//! | Generic | — | `RING`/`+CRING: VOICE`, `+CLIP`, `+CCWA`, `+CLCC` |

use std::fmt;

/// The AT dialect of a modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Plain 3GPP 27.007 / 27.005 (and simulators such as oFono phonesim).
    Generic,
    /// Quectel EC25 / EG25-G / EC21 / EC20.
    Quectel,
    /// SIMCom SIM7600 / A76xx.
    Simcom,
}

impl Dialect {
    /// The name used in configuration and JSON (`generic`, `quectel`, `simcom`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::Quectel => "quectel",
            Dialect::Simcom => "simcom",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which dialect to speak: detect it, or a fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectSetting {
    /// Detect from `AT+CGMI` / `AT+CGMM` (and `ATI` when those fail).
    #[default]
    Auto,
    /// Use this dialect whatever the modem says it is.
    Fixed(Dialect),
}

impl DialectSetting {
    /// Parses `auto`, `generic`, `quectel` or `simcom` (ASCII case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DialectSetting::Auto),
            "generic" => Ok(DialectSetting::Fixed(Dialect::Generic)),
            "quectel" => Ok(DialectSetting::Fixed(Dialect::Quectel)),
            "simcom" => Ok(DialectSetting::Fixed(Dialect::Simcom)),
            _ => Err(format!(
                "unknown dialect `{s}`: use auto, generic, quectel or simcom"
            )),
        }
    }
}

/// Detects the dialect from identity answers (manufacturer, model, `ATI` lines; any
/// may be empty). Matching is case-insensitive on the vendor name, then on model
/// families when the manufacturer line is missing or odd.
pub fn detect(identity: &[&str]) -> Dialect {
    let all = identity.join(" ").to_ascii_uppercase();
    let words = || all.split(|c: char| !c.is_ascii_alphanumeric());
    if all.contains("QUECTEL")
        || words().any(|w| {
            [
                "EC2", "EG2", "EG9", "EC9", "BG9", "EM0", "EM1", "RM5", "EG0",
            ]
            .iter()
            .any(|p| w.starts_with(p))
        })
    {
        return Dialect::Quectel;
    }
    if all.contains("SIMCOM")
        || all.contains("SIM TECH")
        || words().any(|w| {
            ["SIM7", "SIM5", "SIM8", "A76", "A79", "A78"]
                .iter()
                .any(|p| w.starts_with(p))
        })
    {
        return Dialect::Simcom;
    }
    Dialect::Generic
}

/// One initialisation command of a dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitCommand {
    /// The command line (without `\r`).
    pub text: String,
    /// A modem that rejects it cannot be used (init stops with a fault); otherwise
    /// the rejection is logged and init continues.
    pub essential: bool,
}

fn opt(text: &str) -> InitCommand {
    InitCommand {
        text: text.to_owned(),
        essential: false,
    }
}

/// What the board profile / CLI asks of the dialect's init.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DialectOptions {
    /// Quectel: route call audio to the USB audio class device (`AT+QPCMV=1,2`).
    pub quectel_usb_audio: bool,
    /// SIMCom: call audio on the serial PCM port, switched on per call
    /// (`AT+CPCMREG=1` after `VOICE CALL: BEGIN`, `AT+CPCMREG=0` after the end).
    pub simcom_pcm: bool,
    /// Quectel: switch VoLTE on (`AT+QCFG="ims",1`) after reading the setting.
    pub quectel_volte: bool,
    /// Quectel: route URCs to this port (`AT+QURCCFG="urcport","<port>"`):
    /// `usbat`, `usbmodem` or `uart1`.
    pub quectel_urc_port: Option<&'static str>,
}

/// A URC port name of the board profile as a static string (`None` for unknown names,
/// which profile validation rejects).
pub fn urc_port_name(s: &str) -> Option<&'static str> {
    ["usbat", "usbmodem", "uart1"].into_iter().find(|p| *p == s)
}

/// The dialect's commands after the generic configuration (all tolerated when
/// rejected: a missing vendor feature degrades, it does not stop the modem).
pub fn init_extras(d: Dialect, o: DialectOptions) -> Vec<InitCommand> {
    match d {
        Dialect::Generic => Vec::new(),
        Dialect::Quectel => {
            let mut v = Vec::new();
            if let Some(port) = o.quectel_urc_port {
                v.push(opt(&format!("AT+QURCCFG=\"urcport\",\"{port}\"")));
            }
            v.push(opt("AT+QINDCFG=\"ccinfo\",1"));
            v.push(opt("AT+QTONEDET=1"));
            if o.quectel_usb_audio {
                v.push(opt("AT+QPCMV=1,2"));
            }
            if o.quectel_volte {
                v.push(opt(VOLTE_ON));
            }
            // read after any change: the status shows what the modem now has
            v.push(opt(IMS_READ));
            v
        }
        Dialect::Simcom => vec![opt("AT+DDET=1")],
    }
}

/// Quectel: switch VoLTE on (board profile `volte = true`).
pub const VOLTE_ON: &str = "AT+QCFG=\"ims\",1";
/// Quectel: read the VoLTE setting (`+QCFG: "ims",<cfg>,<state>`).
pub const IMS_READ: &str = "AT+QCFG=\"ims\"";

/// The VoLTE state from a Quectel `+QCFG: "ims",<cfg>[,<state>]` line: `<cfg>` 1 is
/// `enabled`, 2 `disabled`; 0 (the carrier profile decides) is `enabled` when
/// `<state>` is 1 (VoLTE ready **(verify)**), else `unknown`. `None` for other lines.
pub fn parse_ims(line: &str) -> Option<&'static str> {
    let rest = line.trim().strip_prefix("+QCFG:")?;
    let f: Vec<&str> = rest
        .split(',')
        .map(|x| x.trim().trim_matches('"'))
        .collect();
    if !f.first()?.eq_ignore_ascii_case("ims") {
        return None;
    }
    Some(match (f.get(1).copied(), f.get(2).copied()) {
        (Some("1"), _) => "enabled",
        (Some("2"), _) => "disabled",
        (Some("0"), Some("1")) => "enabled",
        _ => "unknown",
    })
}

/// The dialect's extra status query, polled with `+CREG?`/`+COPS?`/`+CSQ`: Quectel
/// `AT+QCSQ`, SIMCom `AT+CPSI?` (serving cell and LTE signal quality).
pub fn status_command(d: Dialect) -> Option<&'static str> {
    match d {
        Dialect::Generic => None,
        Dialect::Quectel => Some("AT+QCSQ"),
        Dialect::Simcom => Some("AT+CPSI?"),
    }
}

/// LTE reference signal received power (dBm) from a Quectel `+QCSQ: "LTE",<rssi>,
/// <rsrp>,<sinr>,<rsrq>` or SIMCom `+CPSI: LTE,Online,…,<rsrq>,<rsrp>,<rssi>,<rssnr>`
/// line (SIMCom reports tenths of a dBm **(verify per firmware)**). `None` for other
/// access technologies, `NOSERVICE` or garbage.
pub fn parse_rsrp(line: &str) -> Option<i32> {
    let t = line.trim();
    let upper = t.to_ascii_uppercase();
    if let Some(rest) = upper.strip_prefix("+QCSQ:") {
        let f: Vec<&str> = rest
            .split(',')
            .map(|x| x.trim().trim_matches('"'))
            .collect();
        if f.first() != Some(&"LTE") {
            return None;
        }
        let v: i32 = f.get(2)?.parse().ok()?;
        return (-160..=-30).contains(&v).then_some(v);
    }
    if let Some(rest) = upper.strip_prefix("+CPSI:") {
        let f: Vec<&str> = rest.split(',').map(str::trim).collect();
        if f.first() != Some(&"LTE") || f.len() < 14 {
            return None;
        }
        let tenths: i32 = f.get(11)?.parse().ok()?;
        let v = tenths.div_euclid(10);
        return (-160..=-30).contains(&v).then_some(v);
    }
    None
}

impl super::ModemConfig {
    /// The driver configuration of a board profile's `[modem]` section (already
    /// validated: an unknown dialect there falls back to detection).
    pub fn from_profile(m: &crate::config::board::ModemProfile) -> Self {
        Self {
            dialect: DialectSetting::parse(&m.dialect).unwrap_or_default(),
            pin: m.pin.clone(),
            options: DialectOptions {
                quectel_usb_audio: m.usb_audio_route,
                simcom_pcm: m.pcm_serial.is_some(),
                quectel_volte: m.volte,
                quectel_urc_port: m.urc_port.as_deref().and_then(urc_port_name),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests read the clock once for a start instant
mod tests {
    use super::*;

    #[test]
    fn detects_vendors_from_identity_lines() {
        assert_eq!(detect(&["Quectel", "EC25"]), Dialect::Quectel);
        assert_eq!(detect(&["", "EG25-G"]), Dialect::Quectel);
        assert_eq!(
            detect(&["SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H"]),
            Dialect::Simcom
        );
        assert_eq!(
            detect(&["Manufacturer: SIMCOM INCORPORATED\nModel: A7670E"]),
            Dialect::Simcom
        );
        assert_eq!(detect(&["", "", "SIM7600E-H R2"]), Dialect::Simcom);
        assert_eq!(detect(&["Switchboard", "SimModem"]), Dialect::Generic);
        assert_eq!(detect(&["oFono", "Phonesim"]), Dialect::Generic);
        assert_eq!(detect(&[]), Dialect::Generic);
    }

    #[test]
    fn lte_signal_from_qcsq_and_cpsi() {
        assert_eq!(parse_rsrp("+QCSQ: \"LTE\",-52,-81,195,-10"), Some(-81));
        assert_eq!(parse_rsrp("+QCSQ: \"NOSERVICE\""), None);
        assert_eq!(parse_rsrp("+QCSQ: \"GSM\",-70"), None);
        assert_eq!(
            parse_rsrp(
                "+CPSI: LTE,Online,460-00,0x1816,27629330,332,EUTRAN-BAND3,1300,5,5,-83,-810,-536,23"
            ),
            Some(-81)
        );
        assert_eq!(parse_rsrp("+CPSI: NO SERVICE,Online"), None);
        assert_eq!(parse_rsrp("+CPSI: LTE,Online,x"), None);
        assert_eq!(status_command(Dialect::Generic), None);
    }

    #[test]
    fn settings_parse_and_extras_follow_options() {
        assert_eq!(DialectSetting::parse("AUTO"), Ok(DialectSetting::Auto));
        assert_eq!(
            DialectSetting::parse("simcom"),
            Ok(DialectSetting::Fixed(Dialect::Simcom))
        );
        assert!(
            DialectSetting::parse("huawei")
                .unwrap_err()
                .contains("quectel")
        );
        let q = init_extras(Dialect::Quectel, DialectOptions::default());
        assert!(q.iter().any(|c| c.text == "AT+QTONEDET=1"));
        assert!(!q.iter().any(|c| c.text.starts_with("AT+QPCMV")));
        let q = init_extras(
            Dialect::Quectel,
            DialectOptions {
                quectel_usb_audio: true,
                ..DialectOptions::default()
            },
        );
        assert!(q.iter().any(|c| c.text == "AT+QPCMV=1,2"));
        assert_eq!(
            init_extras(Dialect::Simcom, DialectOptions::default())[0].text,
            "AT+DDET=1"
        );
        assert!(init_extras(Dialect::Generic, DialectOptions::default()).is_empty());
        let q = init_extras(
            Dialect::Quectel,
            DialectOptions {
                quectel_volte: true,
                quectel_urc_port: Some("usbmodem"),
                ..DialectOptions::default()
            },
        );
        let texts: Vec<&str> = q.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts[0], "AT+QURCCFG=\"urcport\",\"usbmodem\"");
        // set before read, so the status shows the result
        assert_eq!(&texts[texts.len() - 2..], &[VOLTE_ON, IMS_READ]);
        let plain = init_extras(Dialect::Quectel, DialectOptions::default());
        assert!(
            !plain
                .iter()
                .any(|c| c.text == VOLTE_ON || c.text.starts_with("AT+QURCCFG"))
        );
        assert!(plain.iter().any(|c| c.text == IMS_READ));
    }

    #[test]
    fn ims_state_from_qcfg() {
        assert_eq!(parse_ims("+QCFG: \"ims\",1,1"), Some("enabled"));
        assert_eq!(parse_ims("+QCFG: \"ims\",1,0"), Some("enabled"));
        assert_eq!(parse_ims("+QCFG: \"IMS\",2,0"), Some("disabled"));
        assert_eq!(parse_ims("+QCFG: \"ims\",0,1"), Some("enabled"));
        assert_eq!(parse_ims("+QCFG: \"ims\",0,0"), Some("unknown"));
        assert_eq!(parse_ims("+QCFG: \"ims\""), Some("unknown"));
        assert_eq!(parse_ims("+QCFG: \"nwscanmode\",0"), None);
        assert_eq!(parse_ims("+CSQ: 1,2"), None);
    }
}
