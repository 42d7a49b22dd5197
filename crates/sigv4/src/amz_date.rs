//! `x-amz-date` values: `YYYYMMDDTHHMMSSZ`.

use std::time::SystemTime;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// `YYYYMMDDTHHMMSSZ` of a Unix time.
pub fn amz_date(unix_seconds: u64) -> String {
    let t = i64::try_from(unix_seconds)
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .expect("a time before the year 10000");
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A parsed `x-amz-date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmzDate<'a> {
    text: &'a str,
    time: SystemTime,
}

impl<'a> AmzDate<'a> {
    /// Parses `YYYYMMDDTHHMMSSZ`; `None` for anything else.
    pub fn parse(text: &'a str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u16> {
            let digits = &text[range];
            digits.bytes().all(|d| d.is_ascii_digit()).then(|| digits.parse().ok())?
        };
        let month = Month::try_from(u8::try_from(number(4..6)?).ok()?).ok()?;
        let date = Date::from_calendar_date(i32::from(number(0..4)?), month, u8::try_from(number(6..8)?).ok()?).ok()?;
        let [hour, minute, second] = [number(9..11)?, number(11..13)?, number(13..15)?].map(|n| u8::try_from(n).ok());
        let time = Time::from_hms(hour?, minute?, second?).ok()?;
        Some(Self { text, time: PrimitiveDateTime::new(date, time).assume_utc().into() })
    }

    /// The text as sent.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// `YYYYMMDD`, the day of the credential scope.
    pub fn day(&self) -> &'a str {
        &self.text[..8]
    }

    /// The time it names.
    pub fn time(&self) -> SystemTime {
        self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        for seconds in [0, 951_827_696, 1_369_353_600, 4_102_444_799] {
            let text = amz_date(seconds);
            let parsed = AmzDate::parse(&text).unwrap();
            assert_eq!(parsed.time(), std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds));
            assert_eq!(parsed.day(), &text[..8]);
        }
        assert_eq!(amz_date(951_827_696), "20000229T123456Z");
    }

    #[test]
    fn refuses_anything_else() {
        for bad in
            ["", "20130524T000000", "20130524 000000Z", "20130230T000000Z", "20130524T250000Z", "2013O524T000000Z"]
        {
            assert!(AmzDate::parse(bad).is_none(), "{bad}");
        }
    }
}
