//! Identity documents: a person waiting for review uploads a photo, staff open exactly those
//! bytes (audited), and wrong, oversize or unwelcome uploads leave nothing behind.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use yoyaku_tests::{TestApp, blamed_fields, error_of, spawn_app_with};

/// A document folder of the test's own, removed when the test ends.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Folder {
        Folder(std::env::temp_dir().join(format!(
            "yoyaku-documents-{}",
            uuid::Uuid::new_v4().simple()
        )))
    }

    /// The names of the files in the folder (none if it was never created).
    fn files(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An app whose documents go to `folder`, with `configure` for other settings.
async fn app_with(
    folder: &Folder,
    configure: impl FnOnce(&mut yoyaku::config::Settings),
) -> TestApp {
    let dir = folder.0.clone();
    spawn_app_with(move |s| {
        s.document_dir = Some(dir);
        configure(s);
    })
    .await
}

/// A person whose email is verified and whose registration waits for review; id and token.
async fn pending_applicant(app: &TestApp) -> (i32, String) {
    let email = format!("{}@test.yoyaku.jp", uuid::Uuid::new_v4().simple());
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO users (email, password_hash, display_name, role, residency, locale, email_verified_at, created_at, registration_state) \
             VALUES ('{email}', NULL, '申請 太郎', 'resident', 'resident', 'ja', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 'pending_review')"
        ))
        .await
        .expect("insert an applicant");
    let id = app
        .count(&format!("SELECT id FROM users WHERE email = '{email}'"))
        .await as i32;
    let (token, _) = app
        .keys
        .issue_access(id, yoyaku::domain::roles::Role::Resident);
    (id, token)
}

async fn token_of(app: &TestApp, email: &str) -> String {
    app.login(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A real PNG of `width` × `height` grey pixels: signature, IHDR, one uncompressed (stored)
/// zlib IDAT and IEND, with their CRCs and the zlib checksum.
fn png(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    // Each row: filter byte 0, then one grey byte per pixel.
    let mut raw = Vec::new();
    for _ in 0..height {
        raw.push(0);
        raw.extend(std::iter::repeat_n(0x80u8, width as usize));
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    let mut zlib = vec![0x78, 0x01, 0x01];
    let len = raw.len() as u16;
    zlib.extend_from_slice(&len.to_le_bytes());
    zlib.extend_from_slice(&(!len).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// One part of a multipart form.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content_type: Option<&'a str>,
    bytes: &'a [u8],
}

fn kind(code: &str) -> Part<'_> {
    Part {
        name: "kind",
        file_name: None,
        content_type: None,
        bytes: code.as_bytes(),
    }
}

fn file<'a>(file_name: &'a str, content_type: &'a str, bytes: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        file_name: Some(file_name),
        content_type: Some(content_type),
        bytes,
    }
}

/// Send `parts` as `multipart/form-data`, as a browser's form does.
async fn upload(app: &TestApp, token: &str, parts: &[Part<'_>]) -> (StatusCode, Value) {
    let boundary = format!("----yoyaku{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(file_name) = part.file_name {
            disposition.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let response = app
        .client
        .post(format!("{}/api/v1/me/documents", app.address))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn documents_of(app: &TestApp, user_id: i32) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM identity_documents WHERE user_id = {user_id}"
    ))
    .await
}

/// Nothing of a refused upload is left: no row, no file, not even a temporary one.
async fn assert_nothing_stored(app: &TestApp, folder: &Folder, user_id: i32) {
    assert_eq!(documents_of(app, user_id).await, 0, "no row");
    assert!(folder.files().is_empty(), "no file: {:?}", folder.files());
}

#[tokio::test]
async fn staff_open_exactly_the_uploaded_photo_and_each_view_is_audited() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let (applicant, token) = pending_applicant(&app).await;
    let photo = png(40, 30);

    // The client's file name and declared type are ignored; the type comes from the bytes.
    let (status, body) = upload(
        &app,
        &token,
        &[
            kind("drivers_licence"),
            file("免許証 表.jpeg", "application/octet-stream", &photo),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "drivers_licence");
    assert_eq!(body["content_type"], "image/png");
    assert_eq!(body["byte_size"], photo.len());
    let document_id = body["id"].as_i64().unwrap();

    // Stored once, under a random key, in the configured folder: outside the web root.
    let files = folder.files();
    assert_eq!(files.len(), 1, "{files:?}");
    let key = &files[0];
    assert_eq!(key.len(), 32, "a random key, not the file name: {key}");
    assert_eq!(std::fs::read(folder.0.join(key)).unwrap(), photo);
    let web_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    assert!(!folder.0.starts_with(&web_root));
    for path in [
        format!("/{key}"),
        format!("/static/{key}"),
        format!("/documents/{key}"),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }

    // The person sees the metadata of their own documents.
    let (status, mine) = app.get_as(&token, "/api/v1/me/documents").await;
    assert_eq!(status, 200);
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], document_id);
    assert_eq!(mine["items"][0]["sha256"], body["sha256"]);

    // Staff see the count in the queue, list the documents, and open the photo.
    let staff = token_of(&app, "staff@demo.yoyaku.jp").await;
    let (status, queue) = app.get_as(&staff, "/api/v1/admin/registrations").await;
    assert_eq!(status, 200);
    let entry = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] == applicant)
        .unwrap_or_else(|| panic!("the applicant is in the queue: {queue}"));
    assert_eq!(entry["document_count"], 1);
    let (status, listed) = app
        .get_as(
            &staff,
            &format!("/api/v1/admin/registrations/{applicant}/documents"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["id"], document_id);

    let response = app
        .client
        .get(format!(
            "{}/api/v1/admin/registrations/{applicant}/documents/{document_id}",
            app.address
        ))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(
        header("content-disposition"),
        format!("inline; filename=\"document-{document_id}.png\"")
    );
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(response.bytes().await.unwrap().as_ref(), photo.as_slice());

    let staff_id = app
        .count("SELECT id FROM users WHERE email = 'staff@demo.yoyaku.jp'")
        .await;
    for action in ["document.list", "document.view"] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' \
                 AND actor_user_id = {staff_id} AND subject_id = {applicant}"
            ))
            .await,
            1,
            "{action} is audited"
        );
    }
}

#[tokio::test]
async fn a_web_page_named_png_is_refused_and_nothing_is_stored() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let (applicant, token) = pending_applicant(&app).await;
    let page = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>";

    let (status, body) = upload(
        &app,
        &token,
        &[kind("residence_card"), file("card.png", "image/png", page)],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body)["code"], "unsupported_file_type");
    assert_eq!(blamed_fields(&body), vec!["file"]);
    assert_nothing_stored(&app, &folder, applicant).await;

    // An iPhone's HEIC photo is refused with advice; so is a file too short to be anything.
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
    let (status, body) = upload(
        &app,
        &token,
        &[kind("passport"), file("IMG_0001.HEIC", "image/heic", heic)],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        error_of(&body)["message"]
            .as_str()
            .unwrap()
            .contains("HEIC")
    );
    let (status, body) = upload(
        &app,
        &token,
        &[kind("passport"), file("x.jpg", "image/jpeg", b"\xFF\xD8")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_nothing_stored(&app, &folder, applicant).await;
}

#[tokio::test]
async fn an_oversize_upload_is_refused_with_the_limit_and_nothing_is_stored() {
    let folder = Folder::new();
    let limit = 64 * 1024;
    let app = app_with(&folder, |s| s.document_max_bytes = limit).await;
    let (applicant, token) = pending_applicant(&app).await;

    // One byte over: the upload's own count stops it. Far over: the route's body limit does.
    for size in [limit as usize + 1, 3 * limit as usize] {
        let mut big = png(1, 1);
        big.resize(size, 0);
        let (status, body) = upload(
            &app,
            &token,
            &[kind("resident_record"), file("scan.png", "image/png", &big)],
        )
        .await;
        assert_eq!(status, 413, "{size} bytes: {body}");
        assert_eq!(error_of(&body)["code"], "file_too_large");
        assert_eq!(blamed_fields(&body), vec!["file"]);
        assert!(
            error_of(&body)["message"]
                .as_str()
                .unwrap()
                .contains(&limit.to_string()),
            "the limit is named: {body}"
        );
        assert_nothing_stored(&app, &folder, applicant).await;
    }

    // Exactly at the limit is fine.
    let mut just = png(1, 1);
    just.resize(limit as usize, 0);
    let (status, body) = upload(
        &app,
        &token,
        &[
            kind("resident_record"),
            file("scan.png", "image/png", &just),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_resident_cannot_see_anyone_elses_documents() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let (applicant, token) = pending_applicant(&app).await;
    let (status, body) = upload(
        &app,
        &token,
        &[kind("student_id"), file("id.png", "image/png", &png(2, 2))],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let document_id = body["id"].as_i64().unwrap();

    let resident = token_of(&app, "resident@demo.yoyaku.jp").await;
    let (other_id, other) = pending_applicant(&app).await;
    for path in [
        format!("/api/v1/admin/registrations/{applicant}/documents"),
        format!("/api/v1/admin/registrations/{applicant}/documents/{document_id}"),
    ] {
        for who in [&resident, &other, &token] {
            let (status, body) = app.get_as(who, &path).await;
            assert_eq!(status, 403, "{path}: {body}");
            assert_eq!(error_of(&body)["code"], "forbidden");
        }
        assert_eq!(app.get(&path).await.status(), 401, "{path} anonymous");
    }
    // Another applicant's own list holds only their own (none).
    let (status, theirs) = app.get_as(&other, "/api/v1/me/documents").await;
    assert_eq!(status, 200);
    assert_eq!(theirs["total"], 0);
    // Staff asking for a document under the wrong person get nothing.
    let staff = token_of(&app, "staff@demo.yoyaku.jp").await;
    let (status, _) = app
        .get_as(
            &staff,
            &format!("/api/v1/admin/registrations/{other_id}/documents/{document_id}"),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_approved_account_uploads_nothing() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let token = token_of(&app, "resident@demo.yoyaku.jp").await;
    let id = app
        .count("SELECT id FROM users WHERE email = 'resident@demo.yoyaku.jp'")
        .await as i32;
    let (status, body) = upload(
        &app,
        &token,
        &[
            kind("drivers_licence"),
            file("a.png", "image/png", &png(2, 2)),
        ],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "not_pending");
    assert_nothing_stored(&app, &folder, id).await;
}

#[tokio::test]
async fn a_new_document_after_a_rejection_puts_the_registration_back_in_the_queue() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let (applicant, token) = pending_applicant(&app).await;
    let staff = token_of(&app, "staff@demo.yoyaku.jp").await;
    let (status, _, body) = app
        .post_as(
            &staff,
            &format!("/api/v1/admin/registrations/{applicant}/reject"),
            None,
            &json!({"reason": "書類の写真が読み取れません"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let (status, body) = upload(
        &app,
        &token,
        &[
            kind("my_number_card_front"),
            file("front.png", "image/png", &png(8, 5)),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {applicant} AND registration_state = 'pending_review'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'registration.resubmit' AND subject_id = {applicant}"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_person_uploads_at_most_the_configured_number_of_documents() {
    let folder = Folder::new();
    let app = app_with(&folder, |s| s.documents_per_person = 2).await;
    let (applicant, token) = pending_applicant(&app).await;
    let photo = png(3, 3);
    for _ in 0..2 {
        let (status, body) = upload(
            &app,
            &token,
            &[kind("other"), file("p.png", "image/png", &photo)],
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = upload(
        &app,
        &token,
        &[kind("other"), file("p.png", "image/png", &photo)],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_of(&body)["code"], "limit_reached");
    assert_eq!(blamed_fields(&body), vec!["documents_per_person"]);
    assert_eq!(documents_of(&app, applicant).await, 2);
    assert_eq!(folder.files().len(), 2);
}

#[tokio::test]
async fn a_form_without_a_known_kind_or_a_file_names_the_field() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let (applicant, token) = pending_applicant(&app).await;
    let photo = png(2, 2);
    let cases: [(&[Part<'_>], &str); 4] = [
        (
            &[
                kind("my_number_card_back"),
                file("b.png", "image/png", &photo),
            ],
            "kind",
        ),
        (&[file("b.png", "image/png", &photo)], "kind"),
        (&[kind("passport")], "file"),
        (
            &[kind("passport"), file("empty.png", "image/png", b"")],
            "file",
        ),
    ];
    for (parts, field) in cases {
        let (status, body) = upload(&app, &token, parts).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(blamed_fields(&body), vec![field], "{body}");
    }
    // A part the form does not have is named too.
    let (status, body) = upload(
        &app,
        &token,
        &[
            kind("passport"),
            Part {
                name: "note",
                file_name: None,
                content_type: None,
                bytes: b"hello",
            },
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_of(&body)["code"], "unknown_parameter");
    assert_eq!(blamed_fields(&body), vec!["note"]);
    assert_nothing_stored(&app, &folder, applicant).await;

    // A web page's form may carry its CSRF token as a part; it is not an unknown part.
    let csrf = Part {
        name: "csrf",
        file_name: None,
        content_type: None,
        bytes: b"token-from-the-page",
    };
    let (status, body) = upload(
        &app,
        &token,
        &[csrf, kind("passport"), file("p.png", "image/png", &photo)],
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_database_refuses_a_document_row_that_breaks_the_rules() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let (applicant, _) = pending_applicant(&app).await;
    let sha = "a".repeat(64);
    let row = |user: i32, kind: &str, content_type: &str, size: i64, sha: &str, key: &str| {
        format!(
            "INSERT INTO identity_documents (user_id, kind, content_type, byte_size, sha256, storage_key, uploaded_at) \
             VALUES ({user}, '{kind}', '{content_type}', {size}, '{sha}', '{key}', '2026-11-23 00:00:00+00:00')"
        )
    };
    let good = row(applicant, "passport", "image/jpeg", 10, &sha, "k1");
    app.db.execute_unprepared(&good).await.expect("a good row");
    for (why, sql) in [
        (
            "the number side of a My Number Card is no kind",
            row(
                applicant,
                "my_number_card_back",
                "image/jpeg",
                10,
                &sha,
                "k2",
            ),
        ),
        (
            "HTML is no document type",
            row(applicant, "passport", "text/html", 10, &sha, "k3"),
        ),
        (
            "an empty file",
            row(applicant, "passport", "image/png", 0, &sha, "k4"),
        ),
        (
            "a short checksum",
            row(applicant, "passport", "image/png", 10, "abc", "k5"),
        ),
        (
            "no such person",
            row(999_999, "passport", "image/png", 10, &sha, "k6"),
        ),
        (
            "one key, two documents",
            row(applicant, "passport", "image/png", 10, &sha, "k1"),
        ),
    ] {
        assert!(app.db.execute_unprepared(&sql).await.is_err(), "{why}");
    }
}

#[tokio::test]
async fn the_openapi_description_shows_the_upload_form_and_the_document_types() {
    let folder = Folder::new();
    let app = app_with(&folder, |_| {}).await;
    let (status, spec) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let paths = &spec["paths"];
    let form = &paths["/api/v1/me/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]
        ["schema"]["properties"];
    assert!(
        form["kind"].is_object() && form["file"].is_object(),
        "{form}"
    );
    let view = &paths["/api/v1/admin/registrations/{id}/documents/{doc_id}"]["get"]["responses"]["200"]
        ["content"];
    for media in ["image/jpeg", "image/png", "application/pdf"] {
        assert!(view[media].is_object(), "{media}: {view}");
    }
    assert!(paths["/api/v1/admin/registrations/{id}/documents"]["get"].is_object());
}
