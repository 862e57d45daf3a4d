//! The signatures receivers check: GitHub's and Gitea's HMAC-SHA256 of the body, and Standard
//! Webhooks' signature over id, timestamp and body (which lets a receiver refuse replays).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

use crate::domain::hex;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().to_vec()
}

/// Hex HMAC-SHA256 of the body with the secret: `X-Gitea-Signature`, and after `sha256=` in
/// `X-Hub-Signature-256`.
pub fn body_signature(secret: &str, body: &[u8]) -> String {
    hex(&hmac_sha256(secret.as_bytes(), &[body]))
}

/// `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. The key
/// is the secret's bytes, or for a `whsec_...` secret (the Standard Webhooks form) the base64
/// after the prefix, decoded.
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = match secret.strip_prefix("whsec_") {
        Some(b64) => STANDARD
            .decode(b64)
            .unwrap_or_else(|_| secret.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    };
    let ts = timestamp.to_string();
    let mac = hmac_sha256(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_matches_the_rfc_vector() {
        assert_eq!(
            body_signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The example from the Standard Webhooks reference libraries.
    #[test]
    fn standard_webhooks_reference_vector() {
        assert_eq!(
            standard_signature(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
