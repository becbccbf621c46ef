//! `switchboard setup-token` and `switchboard reset-password`: the console side of the
//! web page's first contact. Both open the service's database directly (SQLite in WAL
//! mode takes a second connection while the service runs).

use std::path::Path;

use anyhow::{Context, Result};

use crate::store::Store;

fn open(data: &Path) -> Result<Store> {
    let db = data.join("switchboard.db");
    if !db.exists() {
        anyhow::bail!(
            "no database at {}: start the service once (or pass --data with its data directory, e.g. /var/lib/switchboard)",
            db.display()
        );
    }
    Store::open(&db).with_context(|| format!("cannot open {}", db.display()))
}

/// What `switchboard setup-token` prints.
pub fn setup_token(data: &Path) -> Result<String> {
    let store = open(data)?;
    let mut out = match crate::web::ensure_setup_token(&store)? {
        Some(t) => format!(
            "setup token: {t}\nOpen the web page of this box, type the token and choose the admin password.\n"
        ),
        None => "this box is set up (it has an admin password): no setup token.\nForgotten password: switchboard reset-password\n".to_string(),
    };
    out.push_str(&match crate::web::tls::recorded_fingerprint(data) {
        Some(fp) => format!(
            "certificate SHA-256 fingerprint: {fp}\nThe browser warns about a certificate it does not know: check that it shows this fingerprint before you accept it.\n"
        ),
        None => "no HTTPS certificate in force (the service serves plain HTTP, or has not started yet)\n".to_string(),
    });
    Ok(out)
}

/// What `switchboard reset-password` prints.
pub fn reset_password(data: &Path) -> Result<String> {
    let store = open(data)?;
    let t = crate::web::reset_password(&store)?;
    Ok(format!(
        "every admin password and web session is void.\nsetup token: {t}\nOpen the web page, type the token and choose a new admin password.\n"
    ))
}
