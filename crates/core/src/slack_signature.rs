//! Slack's request signing, as its Request URLs (interactivity) receive it: `X-Slack-Signature` is
//! `v0=` and the hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}` under the Slack
//! app's signing secret. A request is taken only when the signature matches (compared in constant
//! time) and its timestamp is within five minutes of now, the window Slack's own SDKs use against
//! replays.

use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

/// How far a request's timestamp may be from now (Slack's SDKs: `abs(now - timestamp) > 60 * 5`
/// is refused).
pub const WINDOW: Duration = Duration::minutes(5);

/// Why a request was not taken as Slack's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no Slack signature or timestamp")]
    Unsigned,
    #[error("the timestamp is more than five minutes from now (a replay, or a clock far off)")]
    Stale,
    #[error("the signature does not match the body")]
    Tampered,
}

/// The `X-Slack-Signature` value of `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &SecretString, timestamp: &str, body: &[u8]) -> String {
    let key = crate::mac::keyed(secret.expose_secret().as_bytes());
    let mut base = Vec::with_capacity(body.len() + timestamp.len() + 4);
    base.extend_from_slice(b"v0:");
    base.extend_from_slice(timestamp.as_bytes());
    base.push(b':');
    base.extend_from_slice(body);
    let tag = crate::mac::tag(&key, &base);
    let mut out = String::with_capacity(67);
    out.push_str("v0=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `body` came from Slack, given the request's two headers.
pub fn verify(
    secret: &SecretString,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), Refused> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(Refused::Unsigned);
    };
    let Ok(at) = timestamp.trim().parse::<i64>() else {
        return Err(Refused::Unsigned);
    };
    if (now.unix_timestamp() - at).abs() > WINDOW.whole_seconds() {
        return Err(Refused::Stale);
    }
    let expected = sign(secret, timestamp.trim(), body);
    // Slack sends lower-case hex; slices of different lengths compare unequal.
    if bool::from(expected.as_bytes().ct_eq(signature.trim().as_bytes())) {
        Ok(())
    } else {
        Err(Refused::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("8f742231b10e8888abcd99yyyzzz85a5")
    }

    #[test]
    fn slacks_documented_example_verifies() {
        // The worked example of Slack's "Verifying requests from Slack" page.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let now = OffsetDateTime::from_unix_timestamp(1_531_420_618).unwrap();
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(&secret(), "1531420618", body), expected);
        assert_eq!(
            verify(&secret(), Some("1531420618"), Some(expected), body, now),
            Ok(())
        );
    }

    #[test]
    fn unsigned_tampered_and_stale_are_refused() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let ts = "1800000000";
        let body = b"payload=%7B%22type%22%3A%22block_actions%22%7D";
        let good = sign(&secret(), ts, body);
        let v = |ts: Option<&str>, sig: Option<&str>, body: &[u8], now| {
            verify(&secret(), ts, sig, body, now)
        };
        assert_eq!(v(Some(ts), Some(&good), body, now), Ok(()));
        assert_eq!(v(None, Some(&good), body, now), Err(Refused::Unsigned));
        assert_eq!(v(Some(ts), None, body, now), Err(Refused::Unsigned));
        assert_eq!(
            v(Some("soon"), Some(&good), body, now),
            Err(Refused::Unsigned)
        );
        assert_eq!(
            v(Some(ts), Some(&good), b"payload=x", now),
            Err(Refused::Tampered)
        );
        assert_eq!(
            v(Some(ts), Some(&good.to_uppercase()), body, now),
            Err(Refused::Tampered)
        );
        assert_eq!(v(Some(ts), Some("v0="), body, now), Err(Refused::Tampered));
        let other = SecretString::from("another signing secret entirely");
        assert_eq!(
            verify(&other, Some(ts), Some(&good), body, now),
            Err(Refused::Tampered)
        );
        // Five minutes either way is the edge; a second past it is stale.
        let edge = now + WINDOW;
        assert_eq!(v(Some(ts), Some(&good), body, edge), Ok(()));
        assert_eq!(
            v(Some(ts), Some(&good), body, edge + Duration::seconds(1)),
            Err(Refused::Stale)
        );
        assert_eq!(
            v(
                Some(ts),
                Some(&good),
                body,
                now - WINDOW - Duration::seconds(1)
            ),
            Err(Refused::Stale)
        );
    }
}
