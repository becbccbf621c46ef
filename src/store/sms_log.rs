//! The SMS cap, and the record of self-test calls. Every SMS the box sends on its own (alert SMS, reply confirmations) takes
//! a slot in `sms_log` first; over the cap within the sliding window the slot is refused
//! and the refusal is recorded too. The log is in SQLite, so a restart (or a restart
//! loop) does not reset the count.

use anyhow::Result;
use rusqlite::params;
use serde::Serialize;

use super::Store;

/// The cap's state for `/api/status` and `switchboard alerts list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SmsCapStatus {
    /// SMS sent within the current window.
    pub sent_in_window: i64,
    /// The cap.
    pub cap: u32,
    /// The window in seconds.
    pub window_seconds: u64,
    /// SMS refused by the cap within the current window.
    pub refused_in_window: i64,
    /// SMS refused by the cap, ever.
    pub refused_total: i64,
    /// When the cap last refused an SMS (unix ms).
    pub last_refused_ms: Option<i64>,
}

impl Store {
    /// Takes a slot for one SMS to `to` at `now_ms` if fewer than `cap` were sent within
    /// `window_ms`; otherwise records the refusal. Returns whether the SMS may go.
    pub fn take_sms_slot(
        &mut self,
        now_ms: i64,
        window_ms: i64,
        cap: u32,
        to: &str,
        purpose: &str,
    ) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let sent: i64 = tx.query_row(
            "SELECT count(*) FROM sms_log WHERE capped = 0 AND at_ms > ?1",
            [now_ms - window_ms],
            |r| r.get(0),
        )?;
        let ok = sent < i64::from(cap);
        tx.execute(
            "INSERT INTO sms_log (at_ms, to_number, purpose, capped) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms, to, purpose, !ok],
        )?;
        tx.commit()?;
        Ok(ok)
    }

    /// The cap's state at `now_ms`.
    pub fn sms_cap_status(&self, now_ms: i64, window_ms: i64, cap: u32) -> Result<SmsCapStatus> {
        let from = now_ms - window_ms;
        let (sent, refused, total, last): (i64, i64, i64, Option<i64>) = self.conn.query_row(
            "SELECT
               (SELECT count(*) FROM sms_log WHERE capped = 0 AND at_ms > ?1),
               (SELECT count(*) FROM sms_log WHERE capped = 1 AND at_ms > ?1),
               (SELECT count(*) FROM sms_log WHERE capped = 1),
               (SELECT max(at_ms) FROM sms_log WHERE capped = 1)",
            [from],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        Ok(SmsCapStatus {
            sent_in_window: sent,
            cap,
            window_seconds: (window_ms / 1000).max(0) as u64,
            refused_in_window: refused,
            refused_total: total,
            last_refused_ms: last,
        })
    }
}

/// A recorded test call, as `GET /api/test-calls` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestCallRow {
    /// Row id.
    pub id: i64,
    /// When it ended (RFC 3339).
    pub at: String,
    /// The number called.
    pub number: String,
    /// Whether it passed.
    pub passed: bool,
    /// How it went (`answered after 2.0 s, tone 5.0 s`) or why it failed.
    pub detail: String,
    /// Started from the web page (not the periodic self-test).
    pub manual: bool,
    /// The engine's test-call id (`POST /api/test-call` answers it); none for rows
    /// from before it was recorded.
    pub test_id: Option<u64>,
}

impl Store {
    /// Records a test call's result: the periodic self-test's, or (`manual`) one
    /// started from the web page; `test_id` is the engine's id of the call.
    pub fn insert_self_test(
        &mut self,
        at_ms: i64,
        number: &str,
        passed: bool,
        detail: &str,
        manual: bool,
        test_id: Option<u64>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO self_test (at_ms, number, passed, detail, manual, test_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at_ms, number, passed, detail, manual, test_id.map(|i| i as i64)],
        )?;
        Ok(())
    }

    /// The most recent test calls (periodic and manual), newest first.
    pub fn self_tests(&self, limit: usize) -> Result<Vec<TestCallRow>> {
        let mut q = self.conn.prepare(
            "SELECT id, at_ms, number, passed, detail, manual, test_id FROM self_test
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = q
            .query_map(params![limit as i64], |r| {
                let at_ms: i64 = r.get(1)?;
                Ok(TestCallRow {
                    id: r.get(0)?,
                    at: jiff::Timestamp::from_millisecond(at_ms)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    number: r.get(2)?,
                    passed: r.get(3)?,
                    detail: r.get(4)?,
                    manual: r.get(5)?,
                    test_id: r.get::<_, Option<i64>>(6)?.map(|i| i as u64),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The last periodic self-test call (manual ones do not count): when (unix ms),
    /// whether it passed, and the detail.
    pub fn last_self_test(&self) -> Result<Option<(i64, bool, String)>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT at_ms, passed, detail FROM self_test WHERE manual = 0 ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_over_the_limit_slides_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let h = 3_600_000;
        {
            let mut s = Store::open(&db).unwrap();
            for i in 0..3 {
                assert!(
                    s.take_sms_slot(i * 1000, 6 * h, 3, "+491701111111", "alert")
                        .unwrap()
                );
            }
            assert!(
                !s.take_sms_slot(5000, 6 * h, 3, "+491701111111", "alert")
                    .unwrap()
            );
        }
        // a restart does not reset the count
        let mut s = Store::open(&db).unwrap();
        assert!(
            !s.take_sms_slot(6000, 6 * h, 3, "+491702222222", "reply")
                .unwrap()
        );
        let st = s.sms_cap_status(6000, 6 * h, 3).unwrap();
        assert_eq!(
            (st.sent_in_window, st.refused_in_window, st.refused_total),
            (3, 2, 2)
        );
        assert_eq!(st.last_refused_ms, Some(6000));
        // the window slides: the first SMS (at 0) is out of it after 6 h
        assert!(
            s.take_sms_slot(6 * h + 1, 6 * h, 3, "+491701111111", "alert")
                .unwrap()
        );
        let st = s.sms_cap_status(6 * h + 1, 6 * h, 3).unwrap();
        assert_eq!((st.sent_in_window, st.refused_in_window), (3, 2));
    }

    #[test]
    fn manual_test_calls_are_listed_but_do_not_count_as_the_last_self_test() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        s.insert_self_test(
            1_000,
            "+491701111111",
            true,
            "answered after 2.0 s, tone 5.0 s",
            false,
            Some(1),
        )
        .unwrap();
        s.insert_self_test(
            2_000,
            "+491702222222",
            false,
            "no answer within 45 s",
            true,
            Some(2),
        )
        .unwrap();
        assert_eq!(
            s.last_self_test().unwrap(),
            Some((1_000, true, "answered after 2.0 s, tone 5.0 s".to_string()))
        );
        let rows = s.self_tests(10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            TestCallRow {
                id: 2,
                at: "1970-01-01T00:00:02Z".into(),
                number: "+491702222222".into(),
                passed: false,
                detail: "no answer within 45 s".into(),
                manual: true,
                test_id: Some(2),
            }
        );
        assert!(!rows[1].manual);
        assert_eq!(s.self_tests(1).unwrap().len(), 1);
    }
}
