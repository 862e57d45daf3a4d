//! The clone-URL copy button's script: served from /-/static/ with caching headers, loaded by the
//! summary page, and allowed by the pages' CSP (script only from this server, never inline).

use crate::helpers::*;
use crate::web::sample_repo;

#[tokio::test(flavor = "multi_thread")]
async fn pages_send_a_strict_csp_and_the_copy_script_is_served_as_a_file() {
    let app = TestApp::spawn().await;
    sample_repo(&app, false).await;
    for path in [
        "/alice/dns",
        "/alice/dns/blob/main/named.conf",
        "/no/such/page",
    ] {
        let res = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let script = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"));
        assert_eq!(script, Some("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'") && csp.contains("frame-ancestors 'none'"));
        let html = res.text().await.unwrap();
        assert!(!html.contains("<script>"), "{path}: no inline script");
    }
    let (_, html) = crate::web::get(&app, "/alice/dns").await;
    assert!(
        html.contains("<script src=\"/-/static/copy.js\" defer></script>"),
        "{html}"
    );
    // Without script the URLs are still there to select.
    assert!(
        html.contains(&format!("value=\"{}\"", app.url(None, "alice/dns"))),
        "{html}"
    );

    let res = reqwest::get(format!("{}/-/static/copy.js", app.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["cache-control"].to_str().unwrap().contains("max-age="));
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("navigator.clipboard.writeText")
    );
    let missing = reqwest::get(format!("{}/-/static/nope.js", app.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
