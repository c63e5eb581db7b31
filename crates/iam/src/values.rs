//! Typed readings of condition values: numbers, dates, IP ranges, booleans
//! and base64. Each returns `None` for text that is not of its type; the
//! parser uses that to reject policies, the evaluator to make a request
//! value of the wrong type simply not match.

use std::net::IpAddr;

/// A decimal number, integer or with a fraction (`10`, `-2.5`).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.matches('.').count() <= 1;
    if ok { t.parse().ok() } else { None }
}

/// `true` or `false`, case-insensitively, as AWS reads `Bool` values.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A point in time as milliseconds since the Unix epoch, from epoch seconds
/// (`1735689600`, `1735689600.5`) or ISO 8601 (`2025-01-01`,
/// `2025-01-01T00:00:00Z`, `2025-01-01T01:00:00.250+01:00`). A date-time
/// without a zone is read as UTC.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(secs) = parse_number(s)
        && (!s.contains('-') || s.starts_with('-'))
    {
        return Some((secs * 1000.0).round() as i64);
    }
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let year: i64 = fixed_digits(dp.next()?, 4)?;
    let month: i64 = fixed_digits(dp.next()?, 2)?;
    let day: i64 = fixed_digits(dp.next()?, 2)?;
    if dp.next().is_some() || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    if let Some(time) = time {
        millis += parse_time_of_day(time)?;
    }
    Some(millis)
}

/// `hh:mm[:ss[.fff]]` followed by `Z`, `±hh:mm`, `±hhmm` or nothing; the
/// offset from midnight UTC in milliseconds.
fn parse_time_of_day(t: &str) -> Option<i64> {
    let (clock, offset_ms) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = t.rfind(['+', '-']) {
        let sign = if t[i..].starts_with('-') { -1 } else { 1 };
        let off = t[i + 1..].replace(':', "");
        let hh: i64 = fixed_digits(off.get(..2)?, 2)?;
        let mm: i64 = fixed_digits(off.get(2..)?, 2)?;
        (&t[..i], sign * (hh * 60 + mm) * 60_000)
    } else {
        (t, 0)
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (clock, None),
    };
    let mut parts = hms.split(':');
    let h: i64 = fixed_digits(parts.next()?, 2)?;
    let m: i64 = fixed_digits(parts.next()?, 2)?;
    let s: i64 = match parts.next() {
        Some(p) => fixed_digits(p, 2)?,
        None => 0,
    };
    if parts.next().is_some() || h > 24 || m > 59 || s > 60 {
        return None;
    }
    let mut ms = ((h * 60 + m) * 60 + s) * 1000;
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let padded = format!("{frac:0<3}");
        ms += padded[..3].parse::<i64>().ok()?;
    }
    Some(ms - offset_ms)
}

fn fixed_digits(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.chars().all(|c| c.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm, restated).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ`, the form of `aws:CurrentTime`.
pub fn format_iso8601(epoch_seconds: i64) -> String {
    let (y, mo, d) = civil_from_days(epoch_seconds.div_euclid(86_400));
    let secs = epoch_seconds.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// An address range: a CIDR block (`203.0.113.0/24`, `2001:db8::/32`) or a
/// single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    base: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let base: IpAddr = addr.parse().ok()?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Self { base, prefix })
    }

    /// Whether `addr` lies in the range. IPv4-mapped IPv6 addresses count as
    /// their IPv4 address; otherwise the families must agree.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.base.to_canonical(), addr.to_canonical()) {
            (IpAddr::V4(b), IpAddr::V4(a)) => prefix_equal(
                u128::from(b.to_bits()),
                u128::from(a.to_bits()),
                self.prefix,
                32,
            ),
            (IpAddr::V6(b), IpAddr::V6(a)) => {
                prefix_equal(b.to_bits(), a.to_bits(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn prefix_equal(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    let prefix = u32::from(prefix);
    if prefix == 0 {
        return true;
    }
    let shift = width - prefix.min(width);
    (a >> shift) == (b >> shift)
}

/// Standard base64 (padding optional); `None` on any other character.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover sextet cannot encode a byte.
    (bits < 6).then_some(out)
}
