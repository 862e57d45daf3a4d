use super::*;

fn line<'a>(text: &'a str, start: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(start))
}

#[test]
fn a_fresh_registry_renders_every_family_with_units_in_names() {
    let text = Metrics::new(true, false).render(Snapshot {
        upload_slots_in_use: 3,
        db_pool_size: 5,
        db_pool_idle: 4,
        queues: Some((2, 7, 1.5)),
    });
    for name in [
        "labforge_build_info",
        "labforge_git_operations_total",
        "labforge_git_operation_duration_seconds",
        "labforge_git_sent_bytes_total",
        "labforge_ssh_connections_open",
        "labforge_ssh_authentications_total",
        "labforge_webhook_deliveries_total",
        "labforge_mirror_syncs_total",
        "labforge_backups_total",
        "labforge_process_resident_memory_bytes",
        "labforge_process_uptime_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{text}"
        );
    }
    assert_eq!(
        line(&text, "labforge_upload_slots_in_use "),
        Some("labforge_upload_slots_in_use 3")
    );
    assert_eq!(
        line(&text, "labforge_db_pool_idle_connections "),
        Some("labforge_db_pool_idle_connections 4")
    );
    assert!(
        line(&text, "labforge_build_info{version=\"").is_some(),
        "{text}"
    );
    assert!(!text.contains("repository"), "{text}");
    assert!(
        text.contains(
            "labforge_git_operations_total{service=\"receive-pack\",transport=\"ssh\"} 0"
        ),
        "{text}"
    );
}

#[test]
fn git_operations_count_by_service_and_transport_and_name_repositories_only_when_asked() {
    let m = Metrics::new(true, false);
    {
        let op = m.git_started("upload-pack", "ssh", "alice/secret");
        op.sent().add(1000);
        op.sent().add(24);
    }
    let text = m.render(Snapshot::default());
    assert!(
        text.contains(
            "\nlabforge_git_operations_total{service=\"upload-pack\",transport=\"ssh\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "\nlabforge_git_sent_bytes_total{service=\"upload-pack\",transport=\"ssh\"} 1024\n"
        ),
        "{text}"
    );
    assert!(text.contains("labforge_git_operation_duration_seconds_count{service=\"upload-pack\",transport=\"ssh\"} 1"), "{text}");
    assert!(!text.contains("alice/secret"));

    let m = Metrics::new(true, true);
    drop(m.git_started("receive-pack", "http", "alice/secret"));
    let text = m.render(Snapshot::default());
    assert!(text.contains("labforge_git_repository_operations_total{repository=\"alice/secret\",service=\"receive-pack\"} 1"), "{text}");
}

#[test]
fn http_answers_count_by_status_class() {
    let m = Metrics::new(true, false);
    for status in [200, 204, 404, 503] {
        m.http_answered("/{owner}/{repo}", status, Duration::from_millis(3));
    }
    let text = m.render(Snapshot::default());
    assert!(
        text.contains("labforge_http_requests_total{route=\"/{owner}/{repo}\",status=\"2xx\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("labforge_http_requests_total{route=\"/{owner}/{repo}\",status=\"4xx\"} 1")
    );
    assert!(
        text.contains("labforge_http_requests_total{route=\"/{owner}/{repo}\",status=\"5xx\"} 1")
    );
    assert!(
        text.contains("labforge_http_request_duration_seconds_count{route=\"/{owner}/{repo}\"} 4")
    );
}

#[test]
fn guards_give_back_what_they_count() {
    let m = Arc::new(Metrics::new(true, false));
    let open = m.ssh_connection();
    let waiting = m.upload_waiting();
    let text = m.render(Snapshot::default());
    assert_eq!(
        line(&text, "labforge_ssh_connections_open "),
        Some("labforge_ssh_connections_open 1")
    );
    assert_eq!(
        line(&text, "labforge_upload_slots_waiting "),
        Some("labforge_upload_slots_waiting 1")
    );
    drop((open, waiting));
    let text = m.render(Snapshot::default());
    assert_eq!(
        line(&text, "labforge_ssh_connections_open "),
        Some("labforge_ssh_connections_open 0")
    );
    assert_eq!(
        line(&text, "labforge_upload_slots_waiting "),
        Some("labforge_upload_slots_waiting 0")
    );
}

#[test]
fn switched_off_nothing_is_counted() {
    let m = Arc::new(Metrics::new(false, false));
    drop(m.git_started("upload-pack", "http", "a/b"));
    m.http_answered("/", 200, Duration::ZERO);
    let _open = m.ssh_connection();
    let text = m.render(Snapshot::default());
    assert!(
        text.contains(
            "labforge_git_operations_total{service=\"upload-pack\",transport=\"http\"} 0"
        ),
        "{text}"
    );
    assert!(!text.contains("labforge_http_requests_total{"), "{text}");
    assert_eq!(
        line(&text, "labforge_ssh_connections_open "),
        Some("labforge_ssh_connections_open 0")
    );
}
